import { writeFile } from "node:fs/promises";

/**
 * The Yahoo Streaming Benchmark's input, generated deterministically: the campaigns table (100
 * campaigns of 10 ads) and ad events as JSON lines. Everything comes from a seeded PRNG, never
 * Math.random, and event i depends only on (seed, i), so any range of events can be generated
 * on its own (in chunks, or by several processes) and still matches a single run.
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

/** mulberry32: a small, fast, well-distributed PRNG of 32-bit words. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
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

const pick = <T>(next: () => number, xs: readonly T[]): T => xs[next() % xs.length];

const campaignsBySeed = new Map<number, YsbCampaign[]>();

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

/** Events `start` .. `start + count - 1` of a seed's stream, as JSON lines (no newline). */
export function ysbEvents(o: YsbEventOptions): string[] {
  if (!(o.rate > 0)) throw new RangeError(`rate must be positive, got ${o.rate}`);
  const start = o.start ?? 0;
  const ads = ysbCampaigns(o.seed).flatMap((c) => c.ad_ids);
  const out: string[] = new Array(o.count);
  for (let n = 0; n < o.count; n++) {
    const i = start + n;
    const next = streamOf(o.seed, i);
    const user_id = uuid(next);
    const page_id = uuid(next);
    const ad_id = pick(next, ads);
    const ad_type = pick(next, YSB_AD_TYPES);
    const event_type = pick(next, YSB_EVENT_TYPES);
    const ip = next();
    const jitter = o.skew ? (next() % (2 * YSB_MAX_SKEW_MS + 1)) - YSB_MAX_SKEW_MS : 0;
    const event_time = String(Math.floor(o.startTimeMs + (i * 1000) / o.rate) + jitter);
    const ip_address = `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
    out[n] = JSON.stringify({ user_id, page_id, ad_id, ad_type, event_type, event_time, ip_address });
  }
  return out;
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
