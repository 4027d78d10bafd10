import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  writeYsbCampaigns,
  YSB_AD_TYPES,
  YSB_EVENT_TYPES,
  YSB_MAX_SKEW_MS,
  YSB_PAGES,
  YSB_USERS,
  ysbCampaigns,
  ysbCampaignsCsv,
  ysbEvents,
  ysbEventsBytes,
} from "../../../engine/io/ysb.ts";
import { evaluateReference } from "../../support/reference.ts";

const T0 = 1_700_000_000_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const KEYS = ["user_id", "page_id", "ad_id", "ad_type", "event_type", "event_time", "ip_address"];

const events = (o: Partial<Parameters<typeof ysbEvents>[0]> = {}) =>
  ysbEvents({ seed: 7, start: 0, count: 2_000, rate: 500, startTimeMs: T0, ...o });

describe("ysbCampaigns", () => {
  test("100 campaigns of 10 ads, UUID-like ids, all distinct; the same for the same seed only", () => {
    const cs = ysbCampaigns(3);
    expect(cs).toHaveLength(100);
    for (const c of cs) expect(c.ad_ids).toHaveLength(10);
    const ids = cs.flatMap((c) => [c.campaign_id, ...c.ad_ids]);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(1_100);
    expect(JSON.stringify(ysbCampaigns(3))).toBe(JSON.stringify(cs));
    expect(ysbCampaigns(4)[0].campaign_id).not.toBe(cs[0].campaign_id);
  });

  test("the CSV has the header ad_id,campaign_id and one line per ad; writeYsbCampaigns writes it", async () => {
    const csv = ysbCampaignsCsv(ysbCampaigns(3));
    const lines = csv.trimEnd().split("\n");
    expect(lines[0]).toBe("ad_id,campaign_id");
    expect(lines).toHaveLength(1_001);
    expect(lines[1]).toBe(`${ysbCampaigns(3)[0].ad_ids[0]},${ysbCampaigns(3)[0].campaign_id}`);
    const dir = mkdtempSync(join(tmpdir(), "drizzle-ysb-"));
    try {
      await writeYsbCampaigns(join(dir, "c.csv"), 3);
      expect(readFileSync(join(dir, "c.csv"), "utf8")).toBe(csv);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ysbEvents", () => {
  test("JSON lines with exactly the YSB keys, in order, all values strings from the fixed vocabularies", () => {
    const ads = new Set(ysbCampaigns(7).flatMap((c) => c.ad_ids));
    const seen = { ad_type: new Set<string>(), event_type: new Set<string>() };
    for (const line of events()) {
      const e = JSON.parse(line) as Record<string, string>;
      expect(Object.keys(e)).toEqual(KEYS);
      for (const k of KEYS) expect(typeof e[k]).toBe("string");
      expect(e.user_id).toMatch(UUID);
      expect(e.page_id).toMatch(UUID);
      expect(ads.has(e.ad_id)).toBe(true);
      expect(YSB_AD_TYPES).toContain(e.ad_type as never);
      expect(YSB_EVENT_TYPES).toContain(e.event_type as never);
      expect(e.event_time).toMatch(/^\d+$/);
      expect(e.ip_address).toMatch(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
      for (const octet of e.ip_address.split(".")) expect(Number(octet)).toBeLessThan(256);
      seen.ad_type.add(e.ad_type);
      seen.event_type.add(e.event_type);
    }
    expect(seen.ad_type.size).toBe(5);
    expect(seen.event_type.size).toBe(3);
  });

  test("users and pages come from pools of YSB_USERS and YSB_PAGES ids per seed, ads from the campaigns", () => {
    const ids = (lines: string[], k: string) => new Set(lines.map((l) => JSON.parse(l)[k] as string));
    const lines = events({ count: 20_000 });
    const users = ids(lines, "user_id"), pages = ids(lines, "page_id");
    // 20 000 draws from 100: every id shows up (the chance one is missed is about 1e-85).
    expect(users.size).toBe(YSB_USERS);
    expect(pages.size).toBe(YSB_PAGES);
    expect([...users].filter((u) => pages.has(u))).toEqual([]);
    const other = events({ seed: 8, count: 2_000 });
    expect([...ids(other, "user_id")].filter((u) => users.has(u))).toEqual([]);
    const ads = new Set(ysbCampaigns(7).flatMap((c) => c.ad_ids));
    expect(ids(lines, "ad_id").size).toBe(ads.size);
  });

  test("deterministic by seed; any range equals the same slice of one run", () => {
    const whole = events({ skew: true });
    expect(events({ skew: true })).toEqual(whole);
    const chunks = [0, 300, 1_234, 2_000];
    const pieces = chunks.slice(1).flatMap((end, i) =>
      events({ start: chunks[i], count: end - chunks[i], skew: true })
    );
    expect(pieces).toEqual(whole);
    const other = events({ seed: 8, skew: true });
    expect(other.filter((l, i) => l === whole[i])).toEqual([]);
  });

  test("without skew event i is at start + floor(i * 1000 / rate), in order", () => {
    const times = events({ rate: 3 }).map((l) => Number(JSON.parse(l).event_time));
    times.forEach((t, i) => expect(t).toBe(T0 + Math.floor((i * 1000) / 3)));
  });

  test("with skew every time is within ±50 ms of its schedule, both ways occur, and no event is more than 100 ms out of order", () => {
    const times = events({ skew: true, rate: 10_000, count: 5_000 }).map((l) => Number(JSON.parse(l).event_time));
    let max = -Infinity;
    let worst = 0;
    const offsets = times.map((t, i) => t - (T0 + Math.floor((i * 1000) / 10_000)));
    for (const t of times) {
      worst = Math.max(worst, max - t);
      max = Math.max(max, t);
    }
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(-YSB_MAX_SKEW_MS);
    expect(Math.max(...offsets)).toBeLessThanOrEqual(YSB_MAX_SKEW_MS);
    expect(Math.min(...offsets)).toBeLessThan(-40);
    expect(Math.max(...offsets)).toBeGreaterThan(40);
    expect(worst).toBeGreaterThan(50);
    expect(worst).toBeLessThanOrEqual(2 * YSB_MAX_SKEW_MS); // what pipelines/ysb.yaml's maxDelay tolerates
  });

  test("each line is JSON.stringify of its event; the bytes are the lines, each ending in a newline", () => {
    // Odd start times (negative, huge) and single events with the longest values included.
    for (const startTimeMs of [T0, -1_500, 1e21, -1.5e20]) {
      for (const count of [1, 2, 3, 500]) {
        const o = { seed: count, start: 77 * count, count, rate: 0.0003, startTimeMs, skew: true };
        const lines = ysbEvents(o);
        expect(lines).toHaveLength(count);
        for (const line of lines) expect(JSON.stringify(JSON.parse(line))).toBe(line);
        expect(new TextDecoder().decode(ysbEventsBytes(o))).toBe(lines.join("\n") + "\n");
      }
    }
    expect(ysbEvents({ seed: 1, count: 0, rate: 1, startTimeMs: T0 })).toEqual([]);
  });

  test("a rate that is not positive is refused", () => {
    expect(() => events({ rate: 0 })).toThrow(RangeError);
  });
});

describe("pipelines/ysb.yaml (through the reference evaluator)", () => {
  test("counts views per campaign and 10 s window; ads not in the table are dropped; nothing is late", () => {
    const root = new URL("../../../", import.meta.url).pathname;
    const file = `${root}pipelines/ysb.yaml`;
    const dir = mkdtempSync(join(tmpdir(), "drizzle-ysb-"));
    try {
      const seed = 11;
      const table = join(dir, "campaigns.csv");
      writeFileSync(table, ysbCampaignsCsv(ysbCampaigns(seed)));
      const lines = ysbEvents({ seed, count: 6_000, rate: 200, startTimeMs: T0, skew: true });
      const stranger = JSON.stringify({ ...JSON.parse(lines[0]), ad_id: "not-an-ad", event_type: "view" });
      const input = [...lines, stranger].join("\n") + "\n";
      const ref = evaluateReference(readFileSync(file, "utf8"), input, 250, { file, env: { YSB_CAMPAIGNS: table } });

      const campaignOf = new Map(ysbCampaigns(seed).flatMap((c) => c.ad_ids.map((a) => [a, c.campaign_id])));
      const want = new Map<string, number>();
      for (const l of lines) {
        const e = JSON.parse(l);
        if (e.event_type !== "view") continue;
        const k = `${campaignOf.get(e.ad_id)}\t${Math.floor(Number(e.event_time) / 10_000) * 10_000}`;
        want.set(k, (want.get(k) ?? 0) + 1);
      }
      expect([...ref.lines].sort()).toEqual([...want].map(([k, n]) => `${k}\t${n}`).sort());
      expect(ref.lines.length).toBeGreaterThanOrEqual(300); // 30 s of events: 3 windows x 100 campaigns
      expect(ref.late).toBe(0);
      expect(ref.rejected).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
