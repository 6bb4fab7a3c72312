/**
 * The browser of the browser tests: Debian's Chromium (`apt-get install -y chromium`; .ci/run
 * installs it), driven by playwright-core, headless. PONTOON_CHROMIUM points at another build.
 * Screenshots go to .pontoon/artifacts/<test>/ (gitignored): kept after the run, never committed.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { REPO_ROOT } from './helpers.ts';

export const CHROMIUM = process.env.PONTOON_CHROMIUM ?? '/usr/bin/chromium';

/** Launches Chromium headless; a missing binary fails with the fix, never a skip. */
export async function launchChromium(args: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install it with "apt-get install -y chromium" (Debian; .ci/run does), or point PONTOON_CHROMIUM at a Chromium binary`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI has no user namespaces for Chromium's sandbox; the pages are our own.
    args: ['--no-sandbox', ...args],
  });
}

/** An empty .pontoon/artifacts/<name>/ for this run's screenshots. */
export function artifactsDir(name: string): string {
  const dir = path.join(REPO_ROOT, '.pontoon', 'artifacts', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}
