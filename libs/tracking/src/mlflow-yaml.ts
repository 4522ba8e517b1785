/**
 * The little YAML MLflow's FileStore writes (`yaml.safe_dump(data, default_flow_style=False,
 * allow_unicode=True, sort_keys=True)` of flat dicts): keys sorted, strings plain where PyYAML would
 * leave them plain and quoted where a plain scalar would read back as something else. PyYAML also
 * folds long scalars at 80 columns; we never fold, which reads back the same.
 */
export type YamlValue = string | number | null | [];

/** YAML 1.1 implicit types (PyYAML's Resolver): a plain scalar matching one is not a string. */
const IMPLICIT = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:<<)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
  /^(?:=)$/,
];

/** Characters PyYAML will not write as they are (it escapes them in double quotes). */
// eslint-disable-next-line no-control-regex -- these control characters are what PyYAML escapes; matching them is the point.
const SPECIAL = /[\u0000-\u001f\u007f-\u009f\ufeff\ufffe\uffff\u2028\u2029]/;
const SPECIAL_ALL = new RegExp(SPECIAL.source, 'g');

/** A double-quoted scalar with YAML escapes for what cannot be written as is. */
const doubleQuoted = (s: string) =>
  `"${s.replace(/[\\"]/g, '\\$&').replace(SPECIAL_ALL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  })}"`;

/** Whether PyYAML's analyze_scalar would allow this string as a plain scalar in a block mapping value. */
function plainAllowed(s: string): boolean {
  if (s === '' || s.startsWith(' ') || s.endsWith(' ')) return false;
  if (/^(?:---|\.\.\.)(?: |$)/.test(s)) return false;
  if (/^[#,[\]{}&*!|>'"%@`]/.test(s)) return false;
  if (/^[-?:](?: |$)/.test(s)) return false;
  if (/:(?: |$)/.test(s) || s.includes(' #')) return false;
  return !IMPLICIT.some((re) => re.test(s));
}

export function yamlScalar(value: YamlValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return '[]';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`only integers are written to meta.yaml, got ${value}`);
    return String(value);
  }
  if (SPECIAL.test(value)) return doubleQuoted(value);
  if (plainAllowed(value)) return value;
  return `'${value.replace(/'/g, "''")}'`;
}

/** A flat mapping, keys sorted as Python sorts str. */
export function yamlDocument(data: Record<string, YamlValue>): string {
  return Object.entries(data)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}: ${yamlScalar(value)}\n`)
    .join('');
}
