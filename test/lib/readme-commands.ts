import { readFileSync } from 'node:fs';

/** A `$ command` line of the README and the output the README says it prints. */
export interface ReadmeCommand {
  command: string;
  expected: string;
  /** 1-based line of the command in the README. */
  line: number;
}

/**
 * The commands between `<!-- <marker>: ... -->` and `<!-- <marker>: end -->` in a README: every
 * `$ ` line of a fenced block, followed by its expected output (the lines up to the next `$ `
 * line or the end of the block).
 */
export function readmeCommands(file: string, marker: string): ReadmeCommand[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(`<!-- ${marker}:`) && !l.includes(': end'));
  const end = lines.findIndex((l) => l.startsWith(`<!-- ${marker}: end`));
  if (start < 0 || end < start) throw new Error(`${file}: no ${marker} section`);
  const commands: ReadmeCommand[] = [];
  let inBlock = false;
  let current: { command: string; output: string[]; line: number } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const expected = current.output.length > 0 ? `${current.output.join('\n')}\n` : '';
    commands.push({ command: current.command, expected, line: current.line });
    current = undefined;
  };
  for (let i = start + 1; i < end; i++) {
    const line = lines[i] as string;
    if (line.startsWith('```')) {
      flush();
      inBlock = !inBlock;
      continue;
    }
    if (!inBlock) continue;
    if (line.startsWith('$ ')) {
      flush();
      current = { command: line.slice(2), output: [], line: i + 1 };
    } else if (current !== undefined) {
      current.output.push(line);
    }
  }
  return commands;
}
