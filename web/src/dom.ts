// Building the DOM without HTML strings: attributes by setAttribute, content by text nodes only.
export type Child = Node | string | undefined | null | false;

export function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'hidden') el.hidden = true;
    else el.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** A bar per bucket, heights relative to the largest, each with its count as a tooltip. */
export function svgBars(buckets: Array<{ label: string; n: number }>): HTMLElement {
  const max = Math.max(1, ...buckets.map((b) => b.n));
  return h(
    'div',
    { class: 'histogram', role: 'img', 'aria-label': 'Matching events over time' },
    ...buckets.map((b) => {
      const bar = h('div', { title: b.label });
      bar.style.height = `${Math.round((b.n / max) * 100)}%`;
      return bar;
    }),
  );
}
