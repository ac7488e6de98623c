// The dashboard's and the market's charts. The page carries the data in a
// <script type="application/json"> block (never executed) and the labels in data-*
// attributes, so that the Content-Security-Policy allows no inline script.
(function () {
  'use strict';
  if (window.qingluCharts) { return; }  // included once per chart on the dashboard
  window.qingluCharts = true;

  function data(id) {
    var block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : null;
  }

  // Product codes by their names in the page's language (data-names, from the
  // products table), so that no chart shows a bare code.
  function named(element, code) {
    var names = JSON.parse(element.dataset.names || '{}');
    return names[code] || code;
  }

  function byCounty(element) {
    var rows = data('by-county-data');
    var chart = echarts.init(element);
    var places = JSON.parse(element.dataset.places || '{}');
    var labels = rows.map(function (r) {
      return (places[r.region] || r.name) + ' ' + named(element, r.product);
    });
    function series(key, name) {
      return {name: name, type: 'bar', stack: 'all',
              data: rows.map(function (r) { return parseFloat(r[key]); })};
    }
    var d = element.dataset;
    chart.setOption({
      tooltip: {trigger: 'axis'}, legend: {},
      grid: {left: 8, right: 8, bottom: 8, containLabel: true},
      xAxis: {type: 'category', data: labels}, yAxis: {type: 'value'},
      series: [series('held', d.held), series('escrow', d.escrow),
               series('retired', d.retired), series('cancelled', d.cancelled)]
    });
    window.addEventListener('resize', function () { chart.resize(); });
  }

  function prices(element) {
    var rows = data('price-chart-data');
    var chart = echarts.init(element);
    var days = Array.from(new Set(rows.map(function (r) { return r.day; })));
    var products = Array.from(new Set(rows.map(function (r) { return r.product; })));
    function pick(product, key) {
      return days.map(function (day) {
        var r = rows.find(function (x) { return x.day === day && x.product === product; });
        return r ? parseFloat(r[key]) : null;
      });
    }
    var series = [];
    products.forEach(function (p) {
      series.push({name: named(element, p) + ' ' + element.dataset.volume, type: 'bar',
                   barMaxWidth: 48, data: pick(p, 'volume')});
      series.push({name: named(element, p) + ' ' + (element.dataset.vwap || 'VWAP'),
                   type: 'line', yAxisIndex: 1, z: 5, symbolSize: 9,
                   data: pick(p, 'vwap')});
    });
    chart.setOption({animation: false, tooltip: {trigger: 'axis'}, legend: {},
      grid: {left: 8, right: 8, bottom: 8, containLabel: true},
      xAxis: {type: 'category', data: days},
      yAxis: [{type: 'value'}, {type: 'value', name: element.dataset.currency}],
      series: series});
    window.addEventListener('resize', function () { chart.resize(); });
  }

  var county = document.getElementById('by-county');
  if (county) { byCounty(county); }
  var price = document.getElementById('price-chart');
  if (price) { prices(price); }
})();
