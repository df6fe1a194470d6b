/**
 * What `pier migrate-check` says about Ingresses written for ingress-nginx: per Ingress, which
 * of its `nginx.ingress.kubernetes.io/` annotations Pier serves as ingress-nginx does, which it
 * ignores or never runs, and which have values ingress-nginx would also refuse. Pure: Ingress
 * objects in, a report out. The same catalogue and parser as the controller, so the report is
 * what the controller will do.
 */
import type { V1Ingress } from '@kubernetes/client-node';
import { LEGACY_CLASS_ANNOTATION } from './ingress-class.ts';
import { NGINX_ANNOTATION_PREFIX, nginxAnnotationInfo } from './nginx-annotation-catalogue.ts';
import { NGINX_DIALECT, parseNginxAnnotations } from './nginx-annotations.ts';

/** One annotation of one Ingress, with what Pier does with it. */
export interface ReportedAnnotation {
  annotation: string;
  note: string;
}

/** One Ingress of an ingress-nginx class. */
export interface IngressMigration {
  namespace: string;
  name: string;
  /** The class it names (`ingressClassName`, else the deprecated annotation), or '' for none. */
  className: string;
  /** Served as ingress-nginx serves them. */
  honoured: ReportedAnnotation[];
  /** Served without them. */
  ignored: ReportedAnnotation[];
  /** Snippets: never executed. */
  neverRun: ReportedAnnotation[];
  /** Honoured annotations whose value is refused; the default applies (as in ingress-nginx). */
  invalid: ReportedAnnotation[];
  /** `unchanged`: Pier serves it as ingress-nginx does; `changes`: something above differs. */
  verdict: 'unchanged' | 'changes';
}

/** The whole report. */
export interface MigrationReport {
  /** The classes checked (`--class`). */
  classes: string[];
  /** Ingresses of those classes (and class-less ones), by namespace/name. */
  ingresses: IngressMigration[];
  /** Ingresses of other classes, not checked. */
  skipped: number;
  summary: { ingresses: number; unchanged: number; changes: number };
}

/** The class an Ingress names, or '' for none. */
function classOf(ingress: V1Ingress): string {
  return (
    ingress.spec?.ingressClassName || ingress.metadata?.annotations?.[LEGACY_CLASS_ANNOTATION] || ''
  );
}

/**
 * The report on `ingresses`: those naming one of `classes`, and the class-less ones (ingress-nginx
 * serves them when its class is the cluster default, and so would Pier).
 */
export function migrationReport(
  ingresses: readonly V1Ingress[],
  classes: readonly string[],
): MigrationReport {
  const wanted = new Set(classes);
  const checked: IngressMigration[] = [];
  let skipped = 0;
  for (const ingress of ingresses) {
    const className = classOf(ingress);
    if (className !== '' && !wanted.has(className)) {
      skipped++;
      continue;
    }
    checked.push(checkIngress(ingress, className));
  }
  checked.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  const changes = checked.filter((i) => i.verdict === 'changes').length;
  return {
    classes: [...classes],
    ingresses: checked,
    skipped,
    summary: { ingresses: checked.length, unchanged: checked.length - changes, changes },
  };
}

function checkIngress(ingress: V1Ingress, className: string): IngressMigration {
  const annotations = ingress.metadata?.annotations ?? {};
  const parsed = parseNginxAnnotations(annotations, NGINX_DIALECT);
  const honoured: ReportedAnnotation[] = [];
  for (const name of Object.keys(annotations).sort()) {
    if (!name.startsWith(NGINX_ANNOTATION_PREFIX)) continue;
    const info = nginxAnnotationInfo(name);
    if (info.support === 'honoured') honoured.push({ annotation: name, note: info.note });
  }
  const neverRun = parsed.ignored.filter(
    (a) => nginxAnnotationInfo(a.annotation).support === 'refused',
  );
  const ignored = parsed.ignored.filter(
    (a) => nginxAnnotationInfo(a.annotation).support !== 'refused',
  );
  const invalid = parsed.problems.map((p) => ({ annotation: p.annotation, note: p.message }));
  const clean = ignored.length === 0 && neverRun.length === 0 && invalid.length === 0;
  return {
    namespace: ingress.metadata?.namespace ?? 'default',
    name: ingress.metadata?.name ?? '',
    className,
    honoured,
    ignored,
    neverRun,
    invalid,
    verdict: clean ? 'unchanged' : 'changes',
  };
}

/** The report for people: one line per Ingress, then what changes, annotation by annotation. */
export function formatMigrationReport(report: MigrationReport): string {
  const rows = [['INGRESS', 'CLASS', 'HONOURED', 'IGNORED', 'NEVER RUN', 'INVALID', 'VERDICT']];
  for (const i of report.ingresses) {
    rows.push([
      `${i.namespace}/${i.name}`,
      i.className || '(none)',
      String(i.honoured.length),
      String(i.ignored.length),
      String(i.neverRun.length),
      String(i.invalid.length),
      i.verdict,
    ]);
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => r[c]?.length ?? 0))) ?? [];
  const lines = rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  for (const i of report.ingresses) {
    if (i.verdict === 'unchanged') continue;
    lines.push('', `${i.namespace}/${i.name}:`);
    for (const [word, list] of [
      ['never run', i.neverRun],
      ['ignored', i.ignored],
      ['invalid', i.invalid],
    ] as const) {
      for (const a of list) lines.push(`  ${word.padEnd(9)}  ${a.annotation}: ${a.note}`);
    }
  }
  const { ingresses, unchanged, changes } = report.summary;
  lines.push(
    '',
    `${ingresses} Ingresses of class ${report.classes.join(', ')} or none: ${unchanged} served as ingress-nginx serves them, ${changes} with changes` +
      (report.skipped > 0 ? `; ${report.skipped} of other classes not checked` : ''),
  );
  return `${lines.join('\n')}\n`;
}
