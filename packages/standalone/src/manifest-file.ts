/**
 * One manifest file: multi-document YAML in, checked objects and one problem per bad document
 * out. A file whose YAML does not parse yields no objects and `parsed: false`, so that the
 * directory can keep serving what the file held before. Pure (the caller reads the file).
 */
import { parseAllDocuments } from 'yaml';
import { checkManifestDocument, type ManifestObject } from './manifest-validation.ts';

/** Something wrong in a file, as one line for the user. */
export interface ManifestProblem {
  /** The file as the user named it (directory + file name). */
  file: string;
  /** `Ingress default/shop`, when the document got that far. */
  object?: string;
  /** Field path (`spec.rules[0].host`), or `line 3` for a YAML syntax error. */
  field?: string;
  message: string;
}

/** A checked object and the file it came from. */
export interface SourcedObject extends ManifestObject {
  file: string;
}

/** What one file holds. */
export interface ParsedManifestFile {
  /** False when the YAML itself is broken: `objects` is then empty and means nothing. */
  parsed: boolean;
  objects: SourcedObject[];
  problems: ManifestProblem[];
}

/** `file: Ingress default/shop: spec.rules[0].host: message`, parts left out when unknown. */
export function formatProblem(problem: ManifestProblem): string {
  return [problem.file, problem.object, problem.field, problem.message]
    .filter((part) => part !== undefined && part !== '')
    .join(': ');
}

/** Parses and checks every document of one file; see the module comment. */
export function parseManifestFile(file: string, text: string): ParsedManifestFile {
  const documents = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const broken = list.flatMap((d) => d.errors);
  if (broken.length > 0) {
    const problems = broken.map((e): ManifestProblem => {
      const line = e.linePos?.[0]?.line;
      // With prettyErrors the first line ends in "at line L, column C:", said by `field` here.
      const message = (e.message.split('\n')[0] ?? e.message).replace(
        / at line \d+, column \d+:?$/,
        '',
      );
      return line === undefined ? { file, message } : { file, field: `line ${line}`, message };
    });
    return { parsed: false, objects: [], problems };
  }
  const objects: SourcedObject[] = [];
  const problems: ManifestProblem[] = [];
  for (const [i, document] of list.entries()) {
    const value: unknown = document.toJS();
    // `---` at the end of a file, or a document of comments only.
    if (value === null || value === undefined) continue;
    const check = checkManifestDocument(value);
    if (check.ok) {
      objects.push({ ...check.object, file });
      continue;
    }
    const { object, field, message } = check.problem;
    problems.push({
      file,
      object: object ?? `document ${i + 1}`,
      ...(field === '' ? {} : { field }),
      message,
    });
  }
  return { parsed: true, objects, problems };
}
