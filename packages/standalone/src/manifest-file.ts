/**
 * One manifest file: multi-document YAML in, each document checked, in file order, out: a good
 * one as its object, a bad one as its problem and, when that much could be read, the object it
 * is a version of (so that `LastGoodObjects` can keep serving that object's last good version).
 * A file whose YAML does not parse yields no documents and `parsed: false`, so that the directory
 * can keep serving what the file held before. Pure (the caller reads the file).
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

/** One document of a file, checked. */
export type CheckedDocument =
  | { ok: true; object: SourcedObject }
  | {
      ok: false;
      /**
       * `Ingress default/shop`: the object this document is a version of, when its kind,
       * namespace and name passed their checks; absent when they did not.
       */
      object?: string;
      problem: ManifestProblem;
    };

/** What one file holds. */
export interface ParsedManifestFile {
  /** The file as the user named it. */
  file: string;
  /** False when the YAML itself is broken: `documents` is then empty and means nothing. */
  parsed: boolean;
  /** Every document that is not empty, in file order. */
  documents: CheckedDocument[];
  /** Problems of the file as a whole (YAML syntax); each bad document carries its own. */
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
  const yaml = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(yaml) ? yaml : [yaml];
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
    return { file, parsed: false, documents: [], problems };
  }
  const documents: CheckedDocument[] = [];
  for (const [i, document] of list.entries()) {
    const value: unknown = document.toJS();
    // `---` at the end of a file, or a document of comments only.
    if (value === null || value === undefined) continue;
    const check = checkManifestDocument(value);
    if (check.ok) {
      documents.push({ ok: true, object: { ...check.object, file } });
      continue;
    }
    const { object, field, message } = check.problem;
    const problem: ManifestProblem = {
      file,
      object: object ?? `document ${i + 1}`,
      ...(field === '' ? {} : { field }),
      message,
    };
    documents.push(object === undefined ? { ok: false, problem } : { ok: false, object, problem });
  }
  return { file, parsed: true, documents, problems: [] };
}
