/**
 * Go's text/tabwriter as kubectl configures it (padchar ' ', no flags): cells of a row are
 * tab-terminated except the last, which is printed as is; a column's width is the widest
 * tab-terminated cell of its block of consecutive rows plus the padding, never less than minwidth.
 * Sources: go/src/text/tabwriter/tabwriter.go (format, writeLines); kubectl's settings in
 * kubernetes pkg/printers/tabwriter.go (1.11: minwidth 10, tabwidth 4, padding 3) and
 * k8s.io/cli-runtime/pkg/printers/tabwriter.go (minwidth 6 since kubernetes PR #67965, 1.12;
 * the RememberWidths flag of github.com/liggitt/tabwriter only matters across flushes, i.e. `-w`).
 */

export interface TabwriterSettings {
  readonly minwidth: number;
  readonly padding: number;
}

/** kubectl's settings for a Kubernetes minor version. */
export function kubectlTabwriter(minor: number): TabwriterSettings {
  return { minwidth: minor < 12 ? 10 : 6, padding: 3 };
}

/** Width as Go counts it: runes (code points). */
function runeCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Lays out rows of cells (every row's last cell unterminated, as kubectl writes them). */
export function tabwrite(rows: readonly (readonly string[])[], settings: TabwriterSettings): string {
  const widths: number[] = [];
  let out = "";

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = rows[i]!;
      let text = "";
      line.forEach((cell, j) => {
        text += cell;
        if (j < widths.length && j < line.length - 1)
          text += " ".repeat(Math.max(0, widths[j]! - runeCount(cell)));
      });
      out += text + "\n";
    }
  };

  // Go's recursive block formatting: a column exists only for runs of rows that have a terminated cell there.
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let row = line0; row < line1; row++) {
      if (column >= rows[row]!.length - 1) continue;
      writeLines(line0, row);
      line0 = row;
      let width = settings.minwidth;
      for (; row < line1; row++) {
        const line = rows[row]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, runeCount(line[column]!) + settings.padding);
      }
      widths.push(width);
      format(line0, row);
      widths.pop();
      line0 = row; // as in Go, the row that ended the block has no cell here: the loop may skip it
    }
    writeLines(line0, line1);
  };

  format(0, rows.length);
  return out;
}
