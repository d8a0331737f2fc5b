import { mkdirSync } from "node:fs";
import { chromium, type Browser, type ConsoleMessage, type Page } from "playwright-core";
import type { PstnPageApi } from "./api.js";
import { servePage, type PageServer } from "./build-page.js";
import { writeToneWav } from "./tones.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** The flags every test browser runs with (plus the fake-capture WAV). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--allow-loopback-in-peer-connection",
  // The page's AudioContext must run without a user gesture.
  "--autoplay-policy=no-user-gesture-required",
];

/** `window.pstn`'s methods as seen from Node: same arguments, results through a promise. */
export type RemotePstn = {
  [K in keyof PstnPageApi]: PstnPageApi[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export interface PstnPage {
  page: Page;
  /** Typed `page.evaluate` calls into `window.pstn`. */
  pstn: RemotePstn;
  /** The page's console output and errors (the last 2000 lines), for failure messages. */
  console(): string[];
}

export interface LaunchedChromium {
  browser: Browser;
  /** The WAV the fake microphone plays (looped). */
  wavPath: string;
  toneHz: number;
  /** The test page's http://127.0.0.1 URL. */
  pageUrl: string;
  /** A new tab with the test page loaded and `window.pstn` ready. Each page has its own matrix-js-sdk client. */
  newPage(): Promise<PstnPage>;
  close(): Promise<void>;
}

function remote(page: Page): RemotePstn {
  return new Proxy({} as RemotePstn, {
    get: (_target, method) => {
      if (typeof method !== "string") return undefined;
      return (...args: unknown[]) =>
        page.evaluate(
          ([name, params]) => {
            const api = (globalThis as unknown as { pstn: Record<string, (...a: unknown[]) => unknown> }).pstn;
            return api[name]!(...params);
          },
          [method, args] as [string, unknown[]],
        );
    },
  });
}

/**
 * Starts headless Debian Chromium whose fake microphone plays a `toneHz` sine, and serves the
 * test page to it from this process. One tone per process: for two browser users with different
 * tones, launch twice.
 */
export async function launchChromium(options: { toneHz: number; workDir: string; verbose?: boolean }): Promise<LaunchedChromium> {
  mkdirSync(options.workDir, { recursive: true });
  const wavPath = writeToneWav(options.workDir, options.toneHz);
  const server: PageServer = await servePage();
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_FLAGS, `--use-file-for-fake-audio-capture=${wavPath}`],
      timeout: 30_000,
    });
  } catch (err) {
    await server.close();
    throw err;
  }
  const context = await browser.newContext({ permissions: ["microphone"] });

  return {
    browser,
    wavPath,
    toneHz: options.toneHz,
    pageUrl: server.url,
    async newPage() {
      const page = await context.newPage();
      const lines: string[] = [];
      const keep = (line: string) => {
        lines.push(line);
        if (lines.length > 2000) lines.splice(0, lines.length - 2000);
        if (options.verbose) console.log(`[page ${options.toneHz}] ${line}`);
      };
      page.on("console", (message: ConsoleMessage) => keep(`${message.type()}: ${message.text()}`));
      page.on("pageerror", (error) => keep(`pageerror: ${error.stack ?? error.message}`));
      await page.goto(server.url);
      await page.waitForFunction(() => "pstn" in globalThis, undefined, { timeout: 15_000 });
      return { page, pstn: remote(page), console: () => [...lines] };
    },
    async close() {
      await browser.close().catch(() => undefined);
      await server.close();
    },
  };
}
