// The checkpoint signing key: Ed25519 through node:crypto. From a PEM file or an environment variable;
// generated only in embedded mode (once, beside the data, mode 0600, and said in the log). Distributed
// mode refuses to start without one: a key made up silently on one node would sign what no one can check.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';

export const EMBEDDED_KEY_FILE = 'trail-ed25519.pem';

/** First 16 hex digits of sha256 over the public key's SPKI DER: names the key in every checkpoint. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

function parsePrivate(text: string, origin: string): KeyObject {
  let key: KeyObject;
  try {
    key = text.includes('-----BEGIN')
      ? createPrivateKey(text)
      : createPrivateKey({ key: Buffer.from(text.trim(), 'base64'), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new ConfigError('config', [`${origin}: not a readable private key (${(err as Error).message})`]);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ConfigError('config', [`${origin}: an Ed25519 key is required, got ${key.asymmetricKeyType}`]);
  return key;
}

/** The private key, or throws a ConfigError naming what to set. */
export function loadSigningKey(config: Config, log?: Logger): KeyObject {
  const t = config.trail;
  if (t.keyFile) return parsePrivate(readFileSync(t.keyFile, 'utf8'), `trail.keyFile (${t.keyFile})`);
  const env = t.keyEnv?.reveal();
  if (env) return parsePrivate(env, `trail.keyEnv (${t.keyEnv?.origin})`);
  if (config.mode === 'distributed') {
    throw new ConfigError('config', [
      'trail.keyFile: the trail is enabled in distributed mode but no signing key is set: give trail.keyFile (a PEM Ed25519 private key) or $PIPEWARDEN_TRAIL_KEY; create one with `openssl genpkey -algorithm ed25519`',
    ]);
  }
  const dir = config.embedded.dataDir;
  const file = join(dir, EMBEDDED_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    log?.warn(
      { file, keyId: keyId(privateKey) },
      'Generated a trail signing key (embedded mode). Keep its public key (`pipewarden trail key`) somewhere the store admin cannot change.',
    );
  }
  return parsePrivate(readFileSync(file, 'utf8'), file);
}

/** The key that verifies checkpoints: trail.publicKeyFile, else derived from the signing key. */
export function loadVerifyKey(config: Config, log?: Logger): KeyObject {
  const file = config.trail.publicKeyFile;
  if (file) {
    try {
      return createPublicKey(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError('config', [`trail.publicKeyFile (${file}): ${(err as Error).message}`]);
    }
  }
  return createPublicKey(loadSigningKey(config, log));
}

export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}
