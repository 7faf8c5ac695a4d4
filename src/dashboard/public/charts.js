// Per-minute line charts with uPlot (served by cesar from its node_modules: no CDN). A chart is a
// canvas, so each figure also says its numbers in text.
import uPlot from '/vendor/uplot.esm.js';
import { h } from './dom.js';

/**
 * A figure with a caption, a chart of the given series and a text summary. update(minutes, values)
 * redraws it: minutes are ISO times, values one array per series.
 */
export function minuteChart(caption, series) {
  const plotArea = h('div', { class: 'chart', 'aria-hidden': 'true' });
  const summary = h('p', { class: 'chart-summary' });
  const figure = h('figure', {}, h('figcaption', {}, caption), plotArea, summary);
  let plot;
  let observer;

  const options = (width) => ({
    width,
    height: 200,
    scales: { x: { time: true } },
    axes: [
      { stroke: '#333', grid: { stroke: '#e4e4e4' } },
      { stroke: '#333', grid: { stroke: '#e4e4e4' } },
    ],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: false } }))],
  });

  function update(minutes, values) {
    const data = [minutes.map((m) => new Date(m).getTime() / 1000), ...values];
    const totals = series.map((s, i) => `${values[i].reduce((a, b) => a + b, 0).toLocaleString()} ${s.label.toLowerCase()}`);
    summary.textContent = `Last hour: ${totals.join(', ')}.`;
    if (plot) {
      plot.setData(data);
      return;
    }
    plot = new uPlot(options(Math.max(plotArea.clientWidth, 280)), data, plotArea);
    observer = new ResizeObserver(() => plot.setSize({ width: Math.max(plotArea.clientWidth, 280), height: 200 }));
    observer.observe(plotArea);
  }

  function destroy() {
    observer?.disconnect();
    plot?.destroy();
  }

  return { element: figure, update, destroy };
}
