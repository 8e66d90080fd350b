import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../../src/proxy/single-flight.js';

describe('SingleFlight', () => {
  it('runs concurrent work for one key once and shares the result', async () => {
    const flights = new SingleFlight();
    let runs = 0;
    let release!: (v: string) => void;
    const work = () => {
      runs++;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const all = Promise.all(Array.from({ length: 16 }, () => flights.run('k', work)));
    release('done');
    expect(await all).toEqual(Array(16).fill('done'));
    expect(runs).toBe(1);
    expect(flights.size).toBe(0);
  });

  it('shares failures, then lets the next caller try again', async () => {
    const flights = new SingleFlight();
    const fail = () => Promise.reject(new Error('upstream down'));
    await expect(Promise.all([flights.run('k', fail), flights.run('k', fail)])).rejects.toThrow('upstream down');
    expect(await flights.run('k', async () => 'ok')).toBe('ok');
  });

  it('keeps keys apart', async () => {
    const flights = new SingleFlight();
    expect(await Promise.all([flights.run('a', async () => 1), flights.run('b', async () => 2)])).toEqual([1, 2]);
  });
});
