/**
 * Which version of each object standalone serves, reload after reload, as an API server keeps
 * objects: a document that passes its check is the object's new version; one that fails is
 * refused and the object keeps its last good version, served as before, with the problem saying
 * so; an object that no document names any more (its document or file deleted) is gone. A
 * document that never passed has no good version, so nothing of it is served.
 *
 * An object is known by kind, namespace and name (`Ingress default/web`). A document too broken
 * to say which object it is (a kind standalone does not read, no name) is taken for the object
 * that stood at the same place in the same file at the last reload, provided the file still has
 * as many documents and no other document names that object; otherwise it names none.
 *
 * A file whose YAML does not parse is taken as it was at its last good parse: its objects are
 * still served, and the YAML problem is reported.
 *
 * The files are combined in order: an object defined twice is kept from the first file and
 * reported where it is repeated, as `kubectl apply` of both would leave only one of them. Pure:
 * the caller reads the files.
 */
import type {
  CheckedDocument,
  ManifestProblem,
  ParsedManifestFile,
  SourcedObject,
} from './manifest-file.ts';
import { objectLabel } from './manifest-validation.ts';

/** Everything the directory holds now. */
export interface ManifestSnapshot {
  /** The version to serve of each object, sorted by file, then order in the file. */
  objects: SourcedObject[];
  problems: ManifestProblem[];
}

/** Added to the problem of a refused document whose object keeps its last good version. */
export const STILL_SERVING = '(still serving the last good version)';

function labelOf(object: SourcedObject): string {
  return objectLabel(object.kind, object.namespace, object.name);
}

/** What one document comes to: the object it stands for, the version to serve, its problem. */
interface Resolved {
  label: string | undefined;
  version: SourcedObject | undefined;
  problem: ManifestProblem | undefined;
}

/** The served version of every object across reloads; see the module comment. */
export class LastGoodObjects {
  /** What the last combine served, by object label: each object's last good version. */
  #served = new Map<string, SourcedObject>();
  /** Per file, the object each document stood for at the last combine, by position. */
  #places = new Map<string, ReadonlyArray<string | undefined>>();
  /** The last parse of each file whose YAML parsed. */
  #lastParsed = new Map<string, ParsedManifestFile>();

  /** One reload: every file of the directory as parsed now, in file-name order. */
  combine(parsedFiles: ReadonlyArray<ParsedManifestFile>): ManifestSnapshot {
    const files = this.#withLastParse(parsedFiles);
    // Objects named by a document now, which a document of unknown identity cannot stand for.
    const named = new Set<string>();
    for (const file of files) {
      for (const d of file.documents) {
        const label = d.ok ? labelOf(d.object) : d.object;
        if (label !== undefined) named.add(label);
      }
    }
    const objects: SourcedObject[] = [];
    const problems: ManifestProblem[] = [];
    const served = new Map<string, SourcedObject>();
    const places = new Map<string, ReadonlyArray<string | undefined>>();
    for (const file of files) {
      problems.push(...file.problems);
      const before = this.#places.get(file.file);
      const samePlaces = before?.length === file.documents.length;
      const here: Array<string | undefined> = [];
      let fromFile = 0;
      for (const [i, d] of file.documents.entries()) {
        const { label, version, problem } = this.#resolve(
          d,
          file.file,
          samePlaces ? before?.[i] : undefined,
          named,
        );
        // A file that does not parse is reported by its YAML problem; its documents are old.
        if (problem !== undefined && file.parsed) problems.push(problem);
        here.push(label);
        if (version === undefined || label === undefined) continue;
        const first = served.get(label);
        if (first !== undefined) {
          problems.push({
            file: file.file,
            object: label,
            message: `defined again; the one in ${first.file} is used`,
          });
          continue;
        }
        served.set(label, version);
        objects.push(version);
        fromFile += 1;
      }
      places.set(file.file, here);
      if (!file.parsed) {
        problems.push({
          file: file.file,
          message:
            fromFile > 0
              ? `YAML does not parse; still serving the ${fromFile} object(s) it held before`
              : 'YAML does not parse; nothing from this file is served',
        });
      }
    }
    this.#served = served;
    this.#places = places;
    return { objects, problems };
  }

  /** The files, each that does not parse given the documents of its last good parse. */
  #withLastParse(files: ReadonlyArray<ParsedManifestFile>): ParsedManifestFile[] {
    const lastParsed = new Map<string, ParsedManifestFile>();
    const out = files.map((file): ParsedManifestFile => {
      const parse = file.parsed ? file : this.#lastParsed.get(file.file);
      if (parse !== undefined) lastParsed.set(file.file, parse);
      return file.parsed ? file : { ...file, documents: parse?.documents ?? [] };
    });
    this.#lastParsed = lastParsed;
    return out;
  }

  /**
   * One document: a good one is its object's new version; a refused one is its object's last
   * good version, if any. `was` is the object that stood at the document's place at the last
   * reload; it is taken (and added to `named`) by a document that cannot name its own.
   */
  #resolve(
    d: CheckedDocument,
    file: string,
    was: string | undefined,
    named: Set<string>,
  ): Resolved {
    if (d.ok) return { label: labelOf(d.object), version: d.object, problem: undefined };
    let label = d.object;
    let note = STILL_SERVING;
    if (label === undefined && was !== undefined && !named.has(was)) {
      label = was;
      named.add(was);
      note = `(still serving the last good version of ${was})`;
    }
    const last = label === undefined ? undefined : this.#served.get(label);
    if (last === undefined) return { label, version: undefined, problem: d.problem };
    return {
      label,
      version: { ...last, file },
      problem: { ...d.problem, message: `${d.problem.message} ${note}` },
    };
  }
}
