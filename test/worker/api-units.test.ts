/** The edge's pure decisions, without a request. */
import { describe, expect, it } from 'vitest';
import { globMatch, parseClaims } from '../../src/api/auth.js';
import { PROBLEM_CODES, problemResponse, problemType } from '../../src/api/problems.js';
import { nearestRegion } from '../../src/api/region.js';
import { mergePages } from '../../src/api/routes-list.js';
import { decodeCursor, encodeCursor, parseIfMatch, parseLimit } from '../../src/api/validate.js';
import { memberId } from '../../src/core/ids.js';
import { type Config, readConfig } from '../../src/objects/config.js';

const config = (regions: string, primary?: string): Config =>
  readConfig({ REGIONS: regions, PRIMARY_REGION: primary } as Parameters<typeof readConfig>[0]);

describe('namespace globs', () => {
  it('treat * as any run of characters and everything else literally', () => {
    expect(globMatch('demo*', 'demo')).toBe(true);
    expect(globMatch('demo*', 'demo-eu')).toBe(true);
    expect(globMatch('demo*', 'xdemo')).toBe(false);
    expect(globMatch('*', 'anything')).toBe(true);
    expect(globMatch('a*b*c', 'a-x-b-y-c')).toBe(true);
    expect(globMatch('a.b', 'aXb')).toBe(false);
    expect(globMatch('a.b', 'a.b')).toBe(true);
    expect(globMatch('demo', 'demo2')).toBe(false);
  });
});

describe('claims', () => {
  it('take the highest known scope of a space-separated list, and none when none is known', () => {
    expect(parseClaims({ ns: 'a', scope: 'read write' }).scope).toBe('write');
    expect(parseClaims({ ns: 'a', scope: 'admin' }).scope).toBe('admin');
    expect(parseClaims({ ns: 'a', scope: 'root' }).scope).toBeUndefined();
    expect(parseClaims({ ns: 'a' }).scope).toBeUndefined();
  });

  it('read ns as one glob or a list, and no ns as no namespace', () => {
    expect(parseClaims({ ns: 'a*', scope: 'read' }).ns).toEqual(['a*']);
    expect(parseClaims({ ns: ['a', 'b*'], scope: 'read' }).ns).toEqual(['a', 'b*']);
    expect(parseClaims({ scope: 'admin' }).ns).toEqual([]);
    expect(() => parseClaims({ ns: ['a', 1] })).toThrow();
  });
});

describe('region from request.cf', () => {
  const three = config('wnam,weur,apac', 'wnam');

  it('maps continents to the nearest configured region', () => {
    expect(nearestRegion({ continent: 'NA', longitude: '-122.4' }, three)).toBe('wnam');
    expect(nearestRegion({ continent: 'NA', longitude: '-74.0' }, three)).toBe('wnam');
    expect(nearestRegion({ continent: 'EU', longitude: '2.3' }, three)).toBe('weur');
    expect(nearestRegion({ continent: 'AF', longitude: '3.4' }, three)).toBe('weur');
    expect(nearestRegion({ continent: 'AS', longitude: '139.7' }, three)).toBe('apac');
    expect(nearestRegion({ continent: 'OC', longitude: '151.2' }, three)).toBe('apac');
  });

  it('splits wide continents by longitude when both halves are configured', () => {
    const us = config('wnam,enam', 'wnam');
    expect(nearestRegion({ continent: 'NA', longitude: '-74.0' }, us)).toBe('enam');
    expect(nearestRegion({ continent: 'NA', longitude: '-122.4' }, us)).toBe('wnam');
    expect(nearestRegion({ continent: 'NA' }, us)).toBe('wnam');
  });

  it('falls back to the primary region when nothing fits or cf is absent', () => {
    expect(nearestRegion({ continent: 'AN' }, three)).toBe(memberId('wnam'));
    expect(nearestRegion(undefined, three)).toBe('wnam');
    expect(nearestRegion({ continent: 'SA' }, config('weur,apac', 'apac'))).toBe('apac');
  });
});

describe('If-Match', () => {
  it('parses * and lists of strong and weak entity tags', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch('*')).toEqual(['*']);
    expect(parseIfMatch('"a"')).toEqual(['"a"']);
    expect(parseIfMatch(' "a" , W/"b",  "c,d"')).toEqual(['"a"', 'W/"b"', '"c,d"']);
  });

  it('refuses what is not an entity-tag list', () => {
    for (const bad of ['a', '"a" "b"', '"a",,', '', 'W/a', '"a", *']) expect(() => parseIfMatch(bad)).toThrow();
  });
});

describe('list pages', () => {
  it('merge shards in key order and say whether more follow', () => {
    expect(mergePages([['b', 'd'], ['a', 'c', 'e'], []], 3)).toEqual({ keys: ['a', 'b', 'c'], more: true });
    expect(mergePages([['b'], ['a']], 2)).toEqual({ keys: ['a', 'b'], more: false });
    expect(mergePages([], 5)).toEqual({ keys: [], more: false });
  });

  it('round-trip cursors, including keys beyond ASCII', () => {
    for (const key of ['a', 'é/ü', '😀 x', 'k'.repeat(512)]) expect(decodeCursor(encodeCursor(key))).toBe(key);
    expect(decodeCursor(undefined)).toBeUndefined();
  });

  it('default the limit to 100, or to the maximum when it is lower', () => {
    expect(parseLimit(undefined, 1000)).toBe(100);
    expect(parseLimit(undefined, 50)).toBe(50);
    expect(parseLimit('1000', 1000)).toBe(1000);
  });
});

describe('problems', () => {
  it('have a stable type URI per code and the problem+json content type', async () => {
    for (const code of PROBLEM_CODES) {
      const res = problemResponse(code, 'd');
      expect(res.headers.get('Content-Type')).toBe('application/problem+json');
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toEqual({ type: problemType(code), title: expect.any(String), status: res.status, detail: 'd' });
      expect(body['type']).toBe(`https://concord.dev/problems/${code}`);
    }
  });
});
