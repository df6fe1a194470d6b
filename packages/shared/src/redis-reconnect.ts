/**
 * How every Pier connection to Redis retries after losing it: soon, and never
 * less often than every 600 ms, so a component is back within a second of
 * Redis coming back after an outage of any length (ioredis's default backs off
 * to 5 s). Reconnection attempts to a loopback or in-cluster Redis are cheap.
 */
export function redisReconnectDelay(attempt: number): number {
  return Math.min(100 * attempt, 500) + Math.floor(Math.random() * 100);
}
