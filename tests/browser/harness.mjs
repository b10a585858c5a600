// The browser suite's world: a doable debug binary on a free port with a data
// directory of its own, and Debian's Chromium driven by playwright-core.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.DOABLE_CHROMIUM ?? '/usr/bin/chromium';
export const TARGET = process.env.CARGO_TARGET_DIR ?? path.join(REPO, 'target');
export const BINARY = process.env.DOABLE_BIN ?? path.join(TARGET, 'debug', 'doable');
export const SCREENSHOTS = path.join(REPO, 'target', 'screenshots');
export const PASSWORD = 'correct horse battery staple';

/// Why the suite cannot run here, or null when it can. Without a browser the
/// suite skips, unless DOABLE_REQUIRE_BROWSER=1 (CI) makes that a failure.
export function missingBrowser() {
  return existsSync(CHROMIUM) ? null : `no browser at ${CHROMIUM} (apt-get install chromium)`;
}

export const browserRequired = process.env.DOABLE_REQUIRE_BROWSER === '1';

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/// Starts doable and resolves once /healthz answers.
export async function startServer() {
  if (!existsSync(BINARY)) {
    throw new Error(`no doable binary at ${BINARY}: run \`cargo build\` first (or set DOABLE_BIN)`);
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'doable-browser-'));
  mkdirSync(path.join(REPO, 'target'), { recursive: true });
  const log = openSync(path.join(REPO, 'target', 'browser-server.log'), 'w');
  // A clean environment: no DATABASE_URL or secret from the caller's shell,
  // and a working directory without a .env, so SQLite lives under DATA_DIR.
  const child = spawn(BINARY, [], {
    cwd: dataDir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      BIND_ADDR: `127.0.0.1:${port}`,
      DATA_DIR: path.join(dataDir, 'data'),
      PUBLIC_URL: base,
      RUST_LOG: 'warn',
      // Every case signs up users of its own, all from 127.0.0.1: more than
      // the default 20 an hour one address may make.
      RATE_LIMIT_SIGNUP_PER_IP: '500/1h',
    },
    stdio: ['ignore', log, log],
  });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  for (let i = 0; i < 200; i++) {
    if (exited !== null) throw new Error(`doable exited with ${exited}; see target/browser-server.log`);
    try {
      const response = await fetch(`${base}/healthz`);
      if (response.ok) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base,
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  // playwright gives each launch a fresh temporary profile (--user-data-dir).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

let counter = 0;
/// A new address for every sign-up.
export function uniqueEmail(label) {
  counter += 1;
  return `${label}-${Date.now()}-${counter}@example.com`;
}
