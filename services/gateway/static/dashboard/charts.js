// Chart.js wrappers for the dashboard: one chart per canvas, rebuilt on every render (animation off, so a
// rebuild is instant), each canvas labelled with a text summary of its numbers for screen readers.

const PALETTE = ['#2459c7', '#e07b00', '#1b8a5a', '#a23bbf', '#c2185b', '#00838f', '#6d4c41', '#7c8796'];

export class Charts {
  /** @param {unknown} chartLibrary the Chart.js constructor (window.Chart), or undefined when it did not load */
  constructor(chartLibrary) {
    this.Chart = chartLibrary;
    this.instances = new Map();
  }

  get available() {
    return typeof this.Chart === 'function';
  }

  /**
   * A bar chart, grouped when there are several series.
   * @param {HTMLCanvasElement} canvas
   * @param {{labels: string[], series: {label: string, data: number[]}[], format: (n: number) => string,
   *   yMax?: number, integer?: boolean, title: string}} spec
   */
  bar(canvas, spec) {
    canvas.setAttribute('aria-label', describe(spec));
    if (!this.available) return;
    this.replace(canvas, {
      type: 'bar',
      data: {
        labels: spec.labels,
        datasets: spec.series.map((s, i) => ({
          label: s.label,
          data: s.data,
          backgroundColor: PALETTE[i % PALETTE.length],
          borderRadius: 3,
          maxBarThickness: 48,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: spec.series.length > 1, position: 'bottom' },
          tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${spec.format(ctx.parsed.y)}` } },
        },
        scales: {
          x: { ticks: { autoSkip: false, maxRotation: 30 } },
          y: {
            beginAtZero: true,
            ...(spec.yMax === undefined ? {} : { max: spec.yMax }),
            // Counts get whole-number ticks only (no 0.2 requests).
            ticks: { callback: (value) => spec.format(Number(value)), ...(spec.integer ? { precision: 0 } : {}) },
          },
        },
      },
    });
  }

  /**
   * A doughnut of shares.
   * @param {HTMLCanvasElement} canvas
   * @param {{labels: string[], data: number[], format: (n: number) => string, title: string}} spec
   */
  doughnut(canvas, spec) {
    canvas.setAttribute(
      'aria-label',
      describe({
        title: spec.title,
        labels: spec.labels,
        series: [{ label: '', data: spec.data }],
        format: spec.format,
      }),
    );
    if (!this.available) return;
    this.replace(canvas, {
      type: 'doughnut',
      data: {
        labels: spec.labels,
        datasets: [{ data: spec.data, backgroundColor: spec.labels.map((_, i) => PALETTE[i % PALETTE.length]) }],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { position: 'right' } },
      },
    });
  }

  replace(canvas, config) {
    this.instances.get(canvas)?.destroy();
    this.instances.set(canvas, new this.Chart(canvas, config));
  }

  destroy(canvas) {
    this.instances.get(canvas)?.destroy();
    this.instances.delete(canvas);
  }

  destroyAll() {
    for (const chart of this.instances.values()) chart.destroy();
    this.instances.clear();
  }
}

/** "Average quality: model-a 0.82, model-b 0.75" (series named when there are several). */
function describe(spec) {
  if (spec.labels.length === 0) return `${spec.title}: no data`;
  const parts = spec.series.map((s) => {
    const values = spec.labels
      .map((label, i) => `${label} ${s.data[i] === null || s.data[i] === undefined ? 'none' : spec.format(s.data[i])}`)
      .join(', ');
    return spec.series.length > 1 ? `${s.label}: ${values}` : values;
  });
  return `${spec.title}: ${parts.join('; ')}`;
}
