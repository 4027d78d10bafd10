import { writeFile } from "node:fs/promises";
import { mulberry32 as prng } from "./prng.ts";

/**
 * The Yahoo Streaming Benchmark's input, generated deterministically: the campaigns table (100
 * campaigns of 10 ads) and ad events as JSON lines. Everything comes from a seeded PRNG, never
 * Math.random, and event i depends only on (seed, i), so any range of events can be generated
 * on its own (in chunks, or by several processes) and still matches a single run. As in YSB's
 * own generator (its real-time mode), users and pages are drawn from pools of 100 ids each,
 * ads from the campaigns' 1000.
 *
 * @example
 * ```ts
 * const lines = ysbEvents({ seed: 1, start: 0, count: 3, rate: 1000, startTimeMs: 1_700_000_000_000 });
 * // ['{"user_id":"…","page_id":"…","ad_id":"…","ad_type":"banner","event_type":"view","event_time":"1700000000000","ip_address":"…"}', …]
 * ```
 */

export const YSB_CAMPAIGNS = 100;
export const YSB_ADS_PER_CAMPAIGN = 10;
export const YSB_AD_TYPES = ["banner", "modal", "sponsored-search", "mail", "mobile"] as const;
export const YSB_EVENT_TYPES = ["view", "click", "purchase"] as const;
/** With skew, an event's time is off its schedule by up to this much, either way. */
export const YSB_MAX_SKEW_MS = 50;

export interface YsbCampaign {
  campaign_id: string;
  ad_ids: string[];
}

export interface YsbEventOptions {
  seed: number;
  /** Index of the first event (events are numbered from 0 at startTimeMs). */
  start?: number;
  count: number;
  /** Events per second: event i is scheduled at startTimeMs + i * 1000 / rate. */
  rate: number;
  startTimeMs: number;
  /** Adds a uniform jitter in [-50, +50] ms to each event time (out-of-order input). */
  skew?: boolean;
}

/** A 32-bit mixing function (the murmur3 finaliser): spreads (seed, index) over the state space. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The generator for one stream: `salt` keeps campaigns and each event's draws independent. */
function streamOf(seed: number, salt: number): () => number {
  return prng(mix(mix(seed >>> 0) ^ Math.imul(salt + 1, 0x9e3779b1)));
}

const hex = (n: number, digits: number) => (n >>> 0).toString(16).padStart(8, "0").slice(8 - digits);

/** A random (version 4 layout) UUID from four PRNG words. */
function uuid(next: () => number): string {
  const a = next(), b = next(), c = next(), d = next();
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-${hex((b & 0x0fff) | 0x4000, 4)}-` +
    `${hex(((c >>> 16) & 0x3fff) | 0x8000, 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`;
}

const campaignsBySeed = new Map<number, YsbCampaign[]>();

/** How many distinct user ids and page ids the events use (YSB: `(make-ids 100)` for each). */
export const YSB_USERS = 100;
export const YSB_PAGES = 100;

/** The 100 campaigns of 10 ads each of a seed (cached: every call returns the same data). */
export function ysbCampaigns(seed: number): YsbCampaign[] {
  let cs = campaignsBySeed.get(seed);
  if (!cs) {
    const next = streamOf(seed, -1);
    cs = Array.from({ length: YSB_CAMPAIGNS }, () => ({
      campaign_id: uuid(next),
      ad_ids: Array.from({ length: YSB_ADS_PER_CAMPAIGN }, () => uuid(next)),
    }));
    campaignsBySeed.set(seed, cs);
  }
  return cs;
}

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** The JSON text around the values of an event line, in order (JSON.stringify's output). */
const PIECES = [
  '{"user_id":"',
  '","page_id":"',
  '","ad_id":"',
  '","ad_type":"',
  '","event_type":"',
  '","event_time":"',
  '","ip_address":"',
  '"}\n',
].map(ascii);
const AD_TYPE_BYTES = YSB_AD_TYPES.map(ascii);
const EVENT_TYPE_BYTES = YSB_EVENT_TYPES.map(ascii);
/** Longest event time written with digits alone; others (negative, huge) are written by String(). */
const MAX_PLAIN_TIME = Number.MAX_SAFE_INTEGER;
/**
 * An event line's upper bound: the text around the values, 3 UUIDs, the longest types, a time
 * (String() of any number is at most 24 characters) and an ip.
 */
const MAX_LINE_BYTES = PIECES.reduce((n, p) => n + p.length, 0) + 3 * 36 +
  Math.max(...AD_TYPE_BYTES.map((b) => b.length)) + Math.max(...EVENT_TYPE_BYTES.map((b) => b.length)) + 24 +
  "255.255.255.255".length;

/**
 * Writes event lines as ASCII bytes, byte for byte what `JSON.stringify` of the event object
 * plus "\n" gives (every value is plain ASCII without quotes or backslashes), without building
 * the objects or strings: the generator must outrun the pipeline it feeds (in a `generate`
 * source it runs on the executors, beside the pipeline). The helpers take the buffer and the
 * write position and return the new position, so the loop keeps both in locals.
 */
class EventWriter {
  buf: Uint8Array;
  at = 0;

  /** Room for `events` lines, in `reuse` when it is big enough. */
  constructor(events: number, reuse?: Uint8Array) {
    const size = Math.max(1, events) * MAX_LINE_BYTES;
    this.buf = reuse && reuse.length >= size ? reuse : new Uint8Array(size);
  }

  text(): string {
    // Latin-1 is ASCII here, and decodes without a UTF-8 pass.
    return Buffer.from(this.buf.buffer, this.buf.byteOffset, this.at).toString("latin1");
  }
}

function putBytes(buf: Uint8Array, at: number, b: Uint8Array): number {
  for (let k = 0; k < b.length; k++) buf[at++] = b[k];
  return at;
}

/** Piece `word % pieces.length` of `pieces`. */
function putOneOf(buf: Uint8Array, at: number, pieces: Uint8Array[], word: number): number {
  const b = pieces[word % pieces.length];
  buf.set(b, at);
  return at + b.length;
}

/** String(n) of a number. */
function putNumber(buf: Uint8Array, at: number, n: number): number {
  if (!(n >= 0 && n <= MAX_PLAIN_TIME && Number.isInteger(n))) return putBytes(buf, at, ascii(String(n)));
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    buf[i] = 48 + n - q * 10;
    n = q;
  }
  return end;
}

/** String(n) of a byte value (0..255). */
function putByteValue(buf: Uint8Array, at: number, n: number): number {
  if (n >= 100) buf[at++] = 48 + ((n / 100) | 0);
  if (n >= 10) buf[at++] = 48 + (((n / 10) | 0) % 10);
  buf[at++] = 48 + (n % 10);
  return at;
}

/** The state of the PRNG of the event being written (see streamOf: prng's steps, inlined). */
let drawState = 0;

/** The next word of the event's stream (mulberry32, as prng). */
function nextWord(): number {
  drawState = (drawState + 0x6d2b79f5) >>> 0;
  let t = drawState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/**
 * The text of an event line before its time, in pieces that each join an id or a type to the
 * JSON around it: `{"user_id":"<user>","page_id":"`, `<page>","ad_id":"`, `<ad>","ad_type":"`,
 * `<type>","event_type":"`, `<type>","event_time":"`. Copying five ready pieces is what makes
 * writing an event cheap.
 */
interface IdPools {
  users: Uint8Array[];
  pages: Uint8Array[];
  ads: Uint8Array[];
  adTypes: Uint8Array[];
  eventTypes: Uint8Array[];
}

const poolsBySeed = new Map<number, IdPools>();

/**
 * A seed's ids as ASCII: every ad of its campaigns in order, and its user and page pools (from
 * streams of their own, so the campaigns stay what they were). Cached like the campaigns.
 */
function idPools(seed: number): IdPools {
  let pools = poolsBySeed.get(seed);
  if (!pools) {
    const draw = (salt: number, n: number) => {
      const next = streamOf(seed, salt);
      return Array.from({ length: n }, () => ascii(uuid(next)));
    };
    const join = (ids: Uint8Array[], before: Uint8Array, after: Uint8Array) =>
      ids.map((id) => Uint8Array.from([...before, ...id, ...after]));
    const none = new Uint8Array(0);
    pools = {
      users: join(draw(-2, YSB_USERS), PIECES[0], PIECES[1]),
      pages: join(draw(-3, YSB_PAGES), none, PIECES[2]),
      ads: join(ysbCampaigns(seed).flatMap((c) => c.ad_ids).map(ascii), none, PIECES[3]),
      adTypes: join(AD_TYPE_BYTES, none, PIECES[4]),
      eventTypes: join(EVENT_TYPE_BYTES, none, PIECES[5]),
    };
    poolsBySeed.set(seed, pools);
  }
  return pools;
}

/** Writes events `start` .. `start + count - 1` (see ysbEvents) as newline-terminated lines. */
function writeEvents(o: YsbEventOptions, w: EventWriter): void {
  if (!(o.rate > 0)) throw new RangeError(`rate must be positive, got ${o.rate}`);
  const start = o.start ?? 0;
  const { users, pages, ads, adTypes, eventTypes } = idPools(o.seed);
  const seedMix = mix(o.seed >>> 0);
  const buf = w.buf;
  let at = w.at;
  // Consecutive events mostly share their millisecond: its digits are written once.
  let timeAt = -1, timeEnd = -1, lastTime = NaN;
  for (let n = 0; n < o.count; n++) {
    const i = start + n;
    // The words streamOf(seed, i) gives, drawn in the same order.
    drawState = mix(seedMix ^ Math.imul(i + 1, 0x9e3779b1));
    at = putOneOf(buf, at, users, nextWord());
    at = putOneOf(buf, at, pages, nextWord());
    at = putOneOf(buf, at, ads, nextWord());
    at = putOneOf(buf, at, adTypes, nextWord());
    at = putOneOf(buf, at, eventTypes, nextWord());
    const ip = nextWord();
    const jitter = o.skew ? (nextWord() % (2 * YSB_MAX_SKEW_MS + 1)) - YSB_MAX_SKEW_MS : 0;
    const time = Math.floor(o.startTimeMs + (i * 1000) / o.rate) + jitter;
    if (time === lastTime) {
      buf.copyWithin(at, timeAt, timeEnd);
      at += timeEnd - timeAt;
    } else {
      timeAt = at;
      at = timeEnd = putNumber(buf, at, time);
      lastTime = time;
    }
    at = putBytes(buf, at, PIECES[6]);
    at = putByteValue(buf, at, ip >>> 24);
    buf[at++] = 46; // .
    at = putByteValue(buf, at, (ip >>> 16) & 255);
    buf[at++] = 46;
    at = putByteValue(buf, at, (ip >>> 8) & 255);
    buf[at++] = 46;
    at = putByteValue(buf, at, ip & 255);
    at = putBytes(buf, at, PIECES[7]);
  }
  w.at = at;
}

/** Events `start` .. `start + count - 1` of a seed's stream, as JSON lines (no newline). */
export function ysbEvents(o: YsbEventOptions): string[] {
  const lines = ysbEventsText(o).split("\n");
  lines.pop(); // after the last newline
  return lines;
}

/** The bytes of ysbEventsText only live until they are decoded, so one buffer serves every call. */
let textScratch: Uint8Array | undefined;

/** The same events as one text: each JSON line followed by "\n". */
export function ysbEventsText(o: YsbEventOptions): string {
  const w = new EventWriter(o.count, textScratch);
  textScratch = w.buf;
  writeEvents(o, w);
  return w.text();
}

/** The same events as bytes (ASCII): each JSON line followed by "\n". */
export function ysbEventsBytes(o: YsbEventOptions): Uint8Array {
  const w = new EventWriter(o.count);
  writeEvents(o, w);
  return w.buf.subarray(0, w.at);
}

/** The campaigns table as CSV: header `ad_id,campaign_id`, one line per ad. */
export function ysbCampaignsCsv(campaigns: YsbCampaign[]): string {
  const lines = ["ad_id,campaign_id"];
  for (const c of campaigns) for (const ad of c.ad_ids) lines.push(`${ad},${c.campaign_id}`);
  return lines.join("\n") + "\n";
}

/** Writes a seed's campaigns table as CSV to `path` (the table pipelines/ysb.yaml joins with). */
export async function writeYsbCampaigns(path: string, seed: number): Promise<void> {
  await writeFile(path, ysbCampaignsCsv(ysbCampaigns(seed)));
}
