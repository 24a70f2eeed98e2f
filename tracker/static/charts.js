// Draw every [data-chart] element with ECharts (served by the app), from the JSON option in
// the <script type="application/json"> it names. Runs on load and after HTMX swaps.
(function () {
  // A Gantt bar: data item [category index, start, end, completion %].
  function gantt(params, api) {
    var start = api.coord([api.value(1), api.value(0)]);
    var end = api.coord([api.value(2), api.value(0)]);
    var height = api.size([0, 1])[1] * 0.5;
    var width = Math.max(end[0] - start[0], 2);
    var done = width * Math.min(Math.max(api.value(3), 0), 100) / 100;
    return {
      type: 'group',
      children: [
        { type: 'rect', shape: { x: start[0], y: start[1] - height / 2, width: width, height: height },
          style: { fill: '#cfe2ff', stroke: '#0d6efd' } },
        { type: 'rect', shape: { x: start[0], y: start[1] - height / 2, width: done, height: height },
          style: { fill: '#0d6efd' } }
      ]
    };
  }

  // An overdue item: data item [category index, due date], a red dot on its section's row.
  function overdueMark(params, api) {
    var at = api.coord([api.value(1), api.value(0)]);
    return { type: 'circle', shape: { cx: at[0], cy: at[1], r: 4 }, style: { fill: '#dc3545', stroke: '#fff' } };
  }

  function draw(root) {
    if (!window.echarts) return;
    root.querySelectorAll('[data-chart]').forEach(function (el) {
      if (el.dataset.drawn) return;
      var source = document.getElementById(el.dataset.chart);
      if (!source) return;
      var chart = window.echarts.init(el, null, { renderer: 'svg' });
      var option = JSON.parse(source.textContent);
      (option.series || []).forEach(function (series) {
        if (series.renderItem === 'gantt') series.renderItem = gantt;
        if (series.renderItem === 'overdue') series.renderItem = overdueMark;
      });
      chart.setOption(option);
      el.dataset.drawn = '1';
      window.addEventListener('resize', function () { chart.resize(); });
    });
  }
  document.addEventListener('DOMContentLoaded', function () { draw(document); });
  document.addEventListener('htmx:afterSwap', function (event) { draw(event.target); });
})();
