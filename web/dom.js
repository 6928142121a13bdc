// dom.js: building elements without innerHTML (every text from the
// cluster is set as text, never parsed as markup) and formatting figures.

// h('td', {className: 'x', title: 't'}, 'text', child, ...): an element.
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('data-') || name.startsWith('aria-')) element.setAttribute(name, value);
    else element[name] = value;
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// Replaces what 'container' holds with 'children'.
export function show(container, ...children) {
  container.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined));
}

export function bytes(count) {
  if (count === undefined || count === null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(count), unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(unit && value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function age(ms) {
  if (ms === undefined || ms === null) return '';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

// A table: 'columns' are header texts, 'rows' arrays of cells (text or elements).
export function table(columns, rows, className) {
  return h('table', { className: className || '' },
    h('thead', {}, h('tr', {}, columns.map((column) => h('th', {}, column)))),
    h('tbody', {}, rows.map((row) => row instanceof Node ? row : h('tr', {}, row.map((cell) => cell instanceof Node && cell.tagName === 'TD' ? cell : h('td', {}, cell))))));
}

// A progress bar of done/total with its figures.
export function bar(done, total, label, className) {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const fill = h('span', { className: 'fill' });
  fill.style.width = `${(fraction * 100).toFixed(1)}%`;
  return h('span', { className: `bar ${className || ''}`, title: label, 'data-fraction': fraction.toFixed(3) },
    fill, h('span', { className: 'bar-label' }, label));
}

export function dot(state) {
  return h('span', { className: `dot state-${state}`, title: state });
}
