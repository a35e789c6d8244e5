#!/usr/bin/env node
// browser.js - a real browser for the browser login (fhir-token login
// --browser): headless Chromium, driven with puppeteer-core, plays the user
// at the keyboard.  It is run as (part of) $BROWSER, so it is given the
// file:// page that fhir-token writes (a meta refresh to the authorization
// URL); it opens it, signs in at the test AS's form (src/as.js), gives or
// refuses consent on the consent page when there is one, lets the AS
// redirect it to fhir-token's loopback listener, and keeps what that
// final page shows: a screenshot and its text.
//
// Usage: node src/browser.js --out PREFIX --ca CA.pem --profile DIR
//          [--user NAME] [--password PW] [--consent allow|deny]
//          [--chromium PATH] [--screenshot FILE] [--timeout S] URL
//
// --out PREFIX: what it saw, written when it is done (PREFIX.result last,
//   so a reader waits for that one):
//     PREFIX.png     the screenshot of the final page (or --screenshot FILE)
//     PREFIX.txt     the final page's text (document.body.innerText)
//     PREFIX.steps   one line per page on the way: "STEP STATUS ORIGIN PATH"
//                    (never a query string: it carries state and code)
//     PREFIX.result  "ok STATUS ORIGIN PATH" (the final page's HTTP status
//                    and address without its query), or "error MESSAGE"
// --ca CA.pem: the CA Chromium trusts: it goes into an NSS database of the
//   profile's own (DIR/home/.pki/nssdb, certutil from libnss3-tools), the
//   place Chromium on Linux reads locally trusted CAs from, with HOME
//   pointing there.  Certificates are verified as always: no
//   --ignore-certificate-errors of any kind.
// --profile DIR: a new, empty directory for Chromium's profile (and HOME).
// --consent allow (default) clicks Allow, deny clicks Deny.
// --chromium PATH: default /usr/bin/chromium (Debian's), or $CHROMIUM.
// --timeout S: the whole run (default 60).
//
// Chromium runs headless without its sandbox (the tests run as root) and
// without the background networking, component updates, sync and QUIC
// that would try to reach outside hosts.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import puppeteer from 'puppeteer-core';

function parseArgs(argv) {
  const opt = {
    out: null,
    ca: null,
    profile: null,
    user: 'alice',
    password: null,
    consent: 'allow',
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    screenshot: null,
    timeout: 60,
    url: null,
  };
  const names = {
    '--out': 'out',
    '--ca': 'ca',
    '--profile': 'profile',
    '--user': 'user',
    '--password': 'password',
    '--consent': 'consent',
    '--chromium': 'chromium',
    '--screenshot': 'screenshot',
    '--timeout': 'timeout',
  };
  for (let i = 0; i < argv.length; i += 1) {
    const name = names[argv[i]];
    if (name) {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      opt[name] = argv[i + 1];
      i += 1;
    } else if (argv[i].startsWith('--') || opt.url !== null) {
      throw new Error(`unexpected argument ${argv[i]}`);
    } else {
      opt.url = argv[i];
    }
  }
  if (!opt.out || !opt.ca || !opt.profile || !opt.url) {
    throw new Error('usage: browser.js --out PREFIX --ca CA.pem --profile DIR [options] URL');
  }
  if (!['allow', 'deny'].includes(opt.consent)) {
    throw new Error(`--consent must be allow or deny: ${opt.consent}`);
  }
  opt.password = opt.password ?? `${opt.user}-secret`;
  opt.timeout = Number(opt.timeout) * 1000;
  opt.screenshot = opt.screenshot || `${opt.out}.png`;
  return opt;
}

// An NSS database in HOME/.pki/nssdb that trusts the CA for TLS servers.
function trustCa(home, ca) {
  const db = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true, mode: 0o700 });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password'], { stdio: 'pipe' });
  execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', 'pam_fhir test CA', '-t', 'C,,', '-i', ca],
    { stdio: 'pipe' });
}

// An address without its query and fragment.
function where(u) {
  try {
    const x = new URL(u);
    return `${x.origin} ${x.pathname}`;
  } catch {
    return '-';
  }
}

// A line on standard error with the milliseconds since the start.
const started = Date.now();
function log(what) {
  process.stderr.write(`browser.js: ${Date.now() - started} ms: ${what}\n`);
}

async function run(opt) {
  const home = path.join(opt.profile, 'home');
  trustCa(home, opt.ca);
  log('the CA is in the NSS database');
  const env = { ...process.env, HOME: home };
  for (const k of ['XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_HOME', 'DISPLAY', 'WAYLAND_DISPLAY']) {
    delete env[k];
  }
  const browser = await puppeteer.launch({
    executablePath: opt.chromium,
    headless: true,
    userDataDir: path.join(opt.profile, 'chromium'),
    env,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage', '--window-size=800,600',
    ],
    timeout: opt.timeout,
    protocolTimeout: opt.timeout,
  });
  log(`Chromium ${await browser.version()} started`);
  const steps = [];
  let page = null;
  try {
    // The tab Chromium opened at start (a new one costs a second).
    [page] = await browser.pages();
    page = page ?? await browser.newPage();
    page.setDefaultTimeout(opt.timeout);
    await page.setViewport({ width: 800, height: 600 });
    let response = null;
    page.on('response', (r) => {
      if (r.request().isNavigationRequest() && r.request().frame() === page.mainFrame()) response = r;
    });
    // A page that does not load (a certificate Chromium does not accept, a
    // server that is not there) ends the run at once, saying why.
    let failed;
    const loadFailed = new Promise((resolve, reject) => { failed = reject; });
    loadFailed.catch(() => {});
    page.on('requestfailed', (r) => {
      if (!r.isNavigationRequest() || r.frame() !== page.mainFrame()) return;
      const why = `${where(r.url())}: ${r.failure()?.errorText}`;
      log(`failed: ${why}`);
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') failed(new Error(`cannot load ${why}`));
    });
    const until = (promise) => Promise.race([promise, loadFailed]);
    const note = (step) => {
      steps.push(`${step} ${response ? response.status() : '-'} ${where(page.url())}`);
      log(steps[steps.length - 1]);
    };

    // The file:// page, then its meta refresh to the AS: wait for the form.
    await until(page.goto(opt.url));
    await until(page.waitForSelector('input[name="username"]'));
    note('sign-in');
    await page.type('input[name="username"]', opt.user);
    await page.type('input[name="password"]', opt.password);
    await until(Promise.all([page.waitForNavigation(), page.click('form button')]));

    // A consent page (as.js --consent-page on), or already the listener.
    if (new URL(page.url()).pathname.startsWith('/interaction/')) {
      note('consent');
      const label = opt.consent === 'allow' ? 'Allow' : 'Deny';
      let button = null;
      for (const b of await page.$$('form button')) {
        if ((await b.evaluate((e) => e.textContent)) === label) button = b;
      }
      if (!button) throw new Error(`no ${label} button on ${where(page.url())}`);
      await until(Promise.all([page.waitForNavigation(), button.click()]));
    }
    const u = new URL(page.url());
    if (u.protocol !== 'http:' || u.hostname !== '127.0.0.1') {
      note('unexpected');
      throw new Error(`not at the loopback listener: ${where(page.url())}`);
    }
    note('final');
    await page.screenshot({ path: opt.screenshot });
    fs.writeFileSync(`${opt.out}.txt`, `${await page.evaluate(() => document.body.innerText)}\n`);
    log(`screenshot in ${opt.screenshot}`);
    return `ok ${response ? response.status() : '-'} ${where(page.url())}`;
  } catch (err) {
    // What the browser shows instead (an error page, a certificate
    // warning), for whoever reads the log.
    if (page) {
      await page.screenshot({ path: opt.screenshot }).then(
        () => log(`screenshot of the page where it stopped in ${opt.screenshot}`),
        () => {},
      );
    }
    throw err;
  } finally {
    fs.writeFileSync(`${opt.out}.steps`, steps.map((s) => `${s}\n`).join(''));
    await browser.close();
    log('Chromium closed');
  }
}

let opt;
try {
  opt = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`browser.js: ${err.message}\n`);
  process.exit(2);
}
const timer = setTimeout(() => {
  fs.writeFileSync(`${opt.out}.result`, 'error timed out\n');
  process.exit(1);
}, opt.timeout + 5000);
try {
  const result = await run(opt);
  fs.writeFileSync(`${opt.out}.result`, `${result}\n`);
  clearTimeout(timer);
} catch (err) {
  process.stderr.write(`browser.js: ${err.stack || err.message}\n`);
  fs.writeFileSync(`${opt.out}.result`, `error ${String(err.message).split('\n')[0]}\n`);
  process.exit(1);
}
