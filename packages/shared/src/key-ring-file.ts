/**
 * Reads the key-ring file mounted from the `pier-key-ring` Secret into both
 * the controller and the dataplanes (docs/routing.md, "TLS private keys").
 */
import { readFileSync } from 'node:fs';
import { InvalidConfigError } from './errors.ts';
import { KeyRing } from './key-sealing.ts';

/**
 * @param where how to name the setting in errors, e.g. `--key-ring-file ($PIER_KEY_RING_FILE)`.
 * @throws InvalidConfigError naming the setting, the file and what is wrong (never key bytes).
 */
export function readKeyRingFile(path: string, where: string): KeyRing {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidConfigError(
      `${where}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  try {
    return KeyRing.fromSpecText(text);
  } catch (err) {
    throw new InvalidConfigError(`${where}: ${path}: ${(err as Error).message}`);
  }
}
