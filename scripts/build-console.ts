// Builds the console UI into dist/console: web/src bundled by esbuild (no runtime fetches, no CDN), with
// web/index.html and web/app.css beside it. Run by `npm run build`; tests call buildConsole().
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);

export async function buildConsole(
  outDir = new URL('dist/console/', root),
): Promise<{ bytes: number; gzipped: number }> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [new URL('web/src/main.ts', root).pathname],
    outfile: new URL('app.js', outDir).pathname,
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(new URL('web/index.html', root), new URL('index.html', outDir));
  copyFileSync(new URL('web/app.css', root), new URL('app.css', outDir));
  const all = ['app.js', 'app.css', 'index.html'].map((f) => readFileSync(new URL(f, outDir)));
  return {
    bytes: all.reduce((n, b) => n + b.length, 0),
    gzipped: all.reduce((n, b) => n + gzipSync(b).length, 0),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { bytes, gzipped } = await buildConsole();
  process.stdout.write(`console UI: ${bytes} bytes, ${gzipped} gzipped (dist/console)\n`);
}
