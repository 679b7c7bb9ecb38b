// The newcomer's path: every command the README shows parses with the CLI's own parser, every command
// has its own --help, --version prints the version, --host/--port work, and a taken port is one line.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { COMMANDS, parseCli, UsageError } from '../../src/cli-args.ts';

const ROOT = new URL('../../', import.meta.url);
const BIN = new URL('bin/pipewarden.js', ROOT).pathname;
const README = readFileSync(new URL('README.md', ROOT), 'utf8');
const VERSION = (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string })
  .version;

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 30_000,
  });
}

function tempConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cli-usage-'));
  const file = join(dir, 'pipewarden.yaml');
  writeFileSync(file, `embedded:\n  dataDir: ${join(dir, 'data')}\nlog:\n  level: info\n`);
  return file;
}

/** The lines of the README's shell code blocks (``` or ```sh fences). */
function shellLines(): string[] {
  const lines: string[] = [];
  let inShell: boolean | undefined; // undefined: outside any fence
  for (const line of README.split('\n')) {
    const fence = /^```(\w*)/.exec(line);
    if (fence) {
      inShell = inShell === undefined ? ['', 'sh', 'bash', 'shell'].includes(fence[1]!) : undefined;
      continue;
    }
    if (inShell) lines.push(line);
  }
  return lines;
}

/**
 * The pipewarden command lines in the README's shell blocks, as arguments: `npx pipewarden ...`,
 * `npm run -s pipewarden -- ...` (also inside `$(...)`), and any bare `pipewarden ...` line.
 */
function readmeCommands(): Array<{ line: string; args: string[] }> {
  const found: Array<{ line: string; args: string[] }> = [];
  for (const line of shellLines()) {
    const m = /(?:^\$?\s*|\$\()(?:npx pipewarden|npm run -s pipewarden --|pipewarden)\s+([^#)]*)/.exec(line);
    if (m) found.push({ line, args: m[1]!.trim().split(/\s+/) });
  }
  return found;
}

describe('the README commands', () => {
  const commands = readmeCommands();

  it('are found (serve, token create, replay, config check at least)', () => {
    const names = new Set(
      commands.map((c) => parseCli(c.args)).map((p) => (p.kind === 'run' ? p.command : p.kind)),
    );
    for (const n of ['serve', 'token create', 'replay', 'config check']) expect(names, n).toContain(n);
  });

  it('each parse with the CLI parser as written', () => {
    for (const { line, args } of commands) {
      expect(() => parseCli(args), line).not.toThrow();
      expect(parseCli(args).kind, line).toBe('run');
    }
  });

  it('never rely on pipewarden being on the PATH in a checkout', () => {
    const bare = shellLines().filter((l) => /^\s*pipewarden\s/.test(l));
    expect(bare).toEqual([]);
  });
});

describe('the CLI parser', () => {
  it('names an unknown option, an unknown command and a stray argument', () => {
    expect(() => parseCli(['serve', '--colour', 'blue'])).toThrow(UsageError);
    expect(() => parseCli(['serve', '--colour', 'blue'])).toThrow(/serve: Unknown option '--colour'/);
    expect(() => parseCli(['frobnicate'])).toThrow(/unknown command 'frobnicate'/);
    expect(() => parseCli(['config', 'check', 'now'])).toThrow(/config check: Unexpected argument 'now'/);
  });

  it('takes --host and --port for serve', () => {
    const p = parseCli(['serve', '--host', '0.0.0.0', '--port', '9000', '--role', 'ingest']);
    expect(p).toMatchObject({
      kind: 'run',
      command: 'serve',
      values: { host: '0.0.0.0', port: '9000', role: 'ingest' },
    });
  });
});

describe('pipewarden (bin/pipewarden.js)', () => {
  it('prints its version with --version and -V', () => {
    for (const flag of ['--version', '-V']) {
      const r = run([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(`pipewarden ${VERSION}`);
    }
  });

  it('gives every command its own --help, and help <command> the same', () => {
    for (const name of Object.keys(COMMANDS)) {
      const own = parseCli([...name.split(' '), '--help']);
      expect(own.kind, name).toBe('help');
      const text = (own as { text: string }).text;
      expect(text.startsWith(`pipewarden ${name}`), text).toBe(true);
      expect(text, name).not.toContain('Usage:'); // its own, not the general one
      expect(parseCli(['help', ...name.split(' ')])).toEqual(own);
      expect(parseCli([...name.split(' '), '-h'])).toEqual(own);
    }
    // and through the real entry point, once
    const r = run(['token', 'create', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${COMMANDS['token create']!.usage}\n`);
    expect(parseCli(['--help'])).toMatchObject({ kind: 'help', text: expect.stringMatching(/^Usage:/m) });
  });

  it('refuses a taken port with one line naming it and exit status 1, no stack', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = run(['serve', '--config', tempConfig(), '--host', '127.0.0.1', '--port', String(port)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `pipewarden: 127.0.0.1:${port} is already in use (another pipewarden?); choose another with --port or server.port\n`,
      );
      expect(r.stderr).not.toMatch(/EADDRINUSE|\n\s+at /);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('listens where --host and --port say', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--config', tempConfig(), '--host', '127.0.0.1', '--port', '0'],
      {
        env: { PATH: process.env.PATH },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const address = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          const entry = JSON.parse(line) as { msg?: string; address?: string };
          if (entry.msg === 'pipewarden is running.') resolve(entry.address!);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(address).not.toMatch(/:0$/);
      expect((await fetch(`${address}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
