/**
 * The one table markup of the app: scrollable wrapper, column headers, one row per record. Each
 * cell carries its column's name (`data-label`, when the header is text): on a phone the rows are
 * shown as cards with that name beside each value (styles.css).
 */
import type { ReactNode } from 'react';
import { useI18n } from '../i18n';

export interface Column<Row> {
  header: ReactNode;
  /** Cell class (e.g. `nowrap`, `mono`, `cell-text`). */
  className?: string;
  cell: (row: Row) => ReactNode;
}

export interface RowProps {
  testId?: string;
  className?: string;
  /** Extra `data-*` attributes (e.g. `data-overdue`) that tests and styles read. */
  data?: Record<string, string>;
}

export function DataTable<Row>({
  rows,
  columns,
  rowKey,
  rowProps,
  actions,
  testId,
  className,
}: {
  rows: readonly Row[];
  columns: ReadonlyArray<Column<Row>>;
  /** The row's buttons, in a last column whose header only screen readers announce. */
  actions?: (row: Row) => ReactNode;
  rowKey: (row: Row) => string | number;
  rowProps?: (row: Row) => RowProps;
  testId: string;
  className?: string;
}) {
  const { t } = useI18n();
  return (
    <div className="table-wrap">
      <table className={className ? `table ${className}` : 'table'} data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th scope="col" key={i}>
                {c.header}
              </th>
            ))}
            {actions ? (
              <th scope="col">
                <span className="sr-only">{t('common.actions')}</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const p = rowProps?.(row) ?? {};
            const data = Object.fromEntries(Object.entries(p.data ?? {}).map(([k, v]) => [`data-${k}`, v]));
            return (
              <tr key={rowKey(row)} data-testid={p.testId} className={p.className || undefined} {...data}>
                {columns.map((c, i) => (
                  <td key={i} className={c.className} data-label={typeof c.header === 'string' ? c.header : undefined}>
                    {c.cell(row)}
                  </td>
                ))}
                {actions ? <td className="cell-actions">{actions(row)}</td> : null}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
