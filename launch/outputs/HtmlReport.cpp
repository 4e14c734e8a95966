#include "launch/outputs/HtmlReport.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "launch/outputs/OutputFile.h"
#include "src/core/Errors.h"
#include "src/core/JsonLimits.h"

#ifndef COHORT_CHARTJS_PATH
#define COHORT_CHARTJS_PATH "/usr/share/javascript/chart.js/chart.min.js"
#endif

namespace cohort::launch {
namespace {

// The page: styles, the header filled by script from the events, one canvas per chart that has
// data, the confusion matrix as a table, and the self-check.
constexpr const char* kPageStart = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>cohort report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 0 0 8px; }
.status { font-weight: 600; } .ok { color: #1a7f37; } .warn { color: #9a6700; } .bad { color: #cf222e; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; margin-top: 16px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
.card canvas { width: 100% !important; height: 280px !important; }
table { border-collapse: collapse; font-size: 12px; } td, th { padding: 2px 6px; text-align: right; border: 1px solid #eee; }
table.settings td { text-align: left; } .muted { color: #777; }
</style></head><body>
<h1>cohort report</h1>
<div id="summary"></div>
<div class="grid" id="charts"></div>
<pre id="report-check" hidden></pre>
<script>
)HTML";

constexpr const char* kPageScript = R"JS(
(function () {
  const errors = [], blocked = [];
  window.addEventListener('error', e => errors.push(String(e.message)));
  document.addEventListener('securitypolicyviolation', e => blocked.push(e.blockedURI || e.violatedDirective));
  const byKind = kind => events.filter(e => e.event === kind);
  const last = kind => { const all = byKind(kind); return all.length ? all[all.length - 1] : null; };
  const run = last('run') || {};
  const epochs = byKind('epoch');
  const workerEvents = byKind('worker');
  const averagings = byKind('averaging');
  const memory = byKind('memory');
  const end = last('done') || last('stopped') || last('failed');
  const restarts = byKind('restart');  // a job that cohort launch started again (one record each)
  const text = s => String(s).replace(/[&<>"]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'})[c]);
  const percent = x => (100 * x).toFixed(2) + '%';

  // Header: how the run ended, configuration, machine.
  let status;
  if (!end) status = '<span class="status warn">running</span> (epoch ' + epochs.length + ' so far)';
  else if (end.event === 'done') status = '<span class="status ok">finished</span>, exit 0: test accuracy ' + percent(end.test_accuracy) + ', test loss ' + end.test_loss.toFixed(4) + ' after ' + end.epochs + ' epochs (' + end.iterations + ' iterations, ' + end.seconds.toFixed(1) + ' s)';
  else if (end.event === 'stopped') status = '<span class="status warn">stopped</span> by ' + text(end.signal) + ' at iteration ' + end.iteration + (end.exit_code ? ', exit ' + end.exit_code : '') + (end.checkpoint ? '; checkpoint ' + text(end.checkpoint) : '');
  else status = '<span class="status bad">failed</span>, exit ' + end.exit_code + ': ' + text(end.error);
  const machine = run.machine || {};
  const job = run.job || {};
  let html = '<p>' + status + '</p><p class="muted">' +
    text(run.model || '') + (run.parameters ? ', ' + run.parameters + ' parameters' : '') + '<br>' +
    'cohort ' + text(run.cohort_version || '?') + ' on ' + text(machine.host || '?') + ': ' + text(machine.cpu || 'CPU') +
    (machine.hardware_threads ? ' (' + machine.hardware_threads + ' hardware threads)' : '') +
    (machine.gpus && machine.gpus.length ? ', GPUs: ' + text(machine.gpus.join(', ')) : '') + '<br>' +
    (job.processes || 1) + ' process(es) × ' + (job.workers || 1) + ' worker(s) = ' + (job.replicas || 1) + ' replica(s) on ' + text(job.device || '?') +
    (job.communicator ? ', averaging through ' + text(job.communicator) : '') +
    (run.data ? '; data ' + text(run.data.name) + ', ' + run.data.train + ' train / ' + run.data.test + ' test samples' : '') +
    '</p>';
  if (restarts.length) {
    html += '<p><b>' + restarts.length + ' restart(s)</b> after lost hosts:</p><ul>' + restarts.map(r =>
      '<li>restart ' + r.restart + ': lost ' + text((r.lost_hosts || []).join(', ') || 'a rank') +
      (r.iteration_failed != null ? ' at iteration ' + r.iteration_failed : '') + '; ' +
      (r.checkpoint ? 'resumed from ' + text(r.checkpoint) + ' (iteration ' + r.iteration + ')' : 'started again from the beginning') +
      ' on ' + r.replicas + ' replica(s) (' + text(r.hosts || '') + ')' +
      (r.iterations_redone != null ? ', ' + r.iterations_redone + ' iteration(s) done again' : '') +
      ', training again ' + Number(r.seconds_from_failure).toFixed(1) + ' s after the failure</li>').join('') + '</ul>';
  }
  if (run.settings) {
    html += '<details><summary>settings</summary><table class="settings">' +
      Object.keys(run.settings).map(k => '<tr><td>' + text(k) + '</td><td>' + text(run.settings[k]) + '</td></tr>').join('') + '</table></details>';
  }
  document.getElementById('summary').innerHTML = html;

  // Charts: only those with data, each on its own card.
  const palette = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7480', '#57606a'];
  const grid = document.getElementById('charts');
  const charts = [];
  function card(title) {
    const div = document.createElement('div');
    div.className = 'card';
    div.innerHTML = '<h2>' + text(title) + '</h2>';
    grid.appendChild(div);
    return div;
  }
  // Restarts on the time axes: a dashed line where each restarted job took over (on an epoch axis
  // within the epoch it resumed in, on an iteration axis at the iteration it resumed from).
  const restartMarks = {id: 'restartMarks', afterDatasetsDraw(c) {
    const axis = c.scales.x, area = c.chartArea, title = axis.options.title && axis.options.title.text;
    if (!restarts.length || (title !== 'epoch' && title !== 'iteration')) return;
    const ctx = c.ctx;
    ctx.save();
    ctx.strokeStyle = '#cf222e'; ctx.fillStyle = '#cf222e'; ctx.setLineDash([4, 3]); ctx.font = '11px sans-serif';
    for (const r of restarts) {
      const x = axis.getPixelForValue(title === 'epoch' ? r.epoch + 0.5 : r.iteration);
      if (!(x >= area.left && x <= area.right)) continue;
      ctx.beginPath(); ctx.moveTo(x, area.top); ctx.lineTo(x, area.bottom); ctx.stroke();
      ctx.fillText('restart ' + r.restart, x + 3, area.top + 11);
    }
    ctx.restore();
  }};
  function chart(title, config) {
    const canvas = document.createElement('canvas');
    card(title).appendChild(canvas);
    config.plugins = [restartMarks];
    config.options = Object.assign({animation: false, responsive: true, maintainAspectRatio: false,
                                    plugins: {legend: {position: 'bottom'}}}, config.options || {});
    charts.push(new Chart(canvas, config));
  }
  const line = (label, points, i, axis) => ({label, data: points, borderColor: palette[i % palette.length],
    backgroundColor: palette[i % palette.length], pointRadius: 2, tension: 0.1, yAxisID: axis || 'y'});
  const xy = (rows, y) => rows.map(r => ({x: r.epoch, y: r[y]}));
  const linear = (title) => ({type: 'linear', title: {display: true, text: title},
                              ticks: title === 'epoch' ? {stepSize: 1, precision: 0} : {}});
  if (epochs.length) {
    chart('Loss per epoch', {type: 'line', data: {datasets: [line('train', xy(epochs, 'train_loss'), 0), line('test', xy(epochs, 'test_loss'), 1)]},
      options: {scales: {x: linear('epoch'), y: linear('loss')}}});
    chart('Accuracy per epoch', {type: 'line', data: {datasets: [line('train', xy(epochs, 'train_accuracy'), 0), line('test', xy(epochs, 'test_accuracy'), 1)]},
      options: {scales: {x: linear('epoch'), y: linear('accuracy')}}});
  }
  const workers = [...new Set(workerEvents.map(w => w.worker))].sort((a, b) => a - b);
  if (epochs.length || workerEvents.length) {
    const sets = workers.map((w, i) => line('worker ' + w, xy(workerEvents.filter(e => e.worker === w), 'samples_per_sec'), i + 1));
    if (epochs.length) sets.unshift(line('job total', xy(epochs, 'samples_per_sec'), 0));
    chart('Samples per second', {type: 'line', data: {datasets: sets}, options: {scales: {x: linear('epoch'), y: linear('samples/s')}}});
  }
  if (workerEvents.length) {
    const parts = [['computing', 'compute_seconds'], ['waiting for data', 'data_wait_seconds'],
                   ['waiting at averaging points', 'averaging_wait_seconds'], ['averaging', 'averaging_seconds']];
    const sum = (w, key) => workerEvents.filter(e => e.worker === w).reduce((s, e) => s + (e[key] || 0), 0);
    chart('Where each worker\'s time went (all epochs)', {type: 'bar',
      data: {labels: workers.map(w => 'worker ' + w), datasets: parts.map(([label, key], i) => ({label, data: workers.map(w => sum(w, key)), backgroundColor: palette[i]}))},
      options: {indexAxis: 'y', scales: {x: {stacked: true, title: {display: true, text: 'seconds'}}, y: {stacked: true}}}});
  }
  if (averagings.length) {
    chart('Averaging cost per point', {type: 'line',
      data: {datasets: [line('seconds', averagings.map(a => ({x: a.iteration, y: a.seconds})), 4)]},
      options: {scales: {x: linear('iteration'), y: linear('seconds')}}});
  }
  const workspaces = memory.filter(m => m.workspace !== undefined);
  const process = memory.filter(m => m.scope === 'process');
  if (workspaces.length || process.length) {
    const names = [...new Set(workspaces.map(m => m.workspace + ' (worker ' + m.worker + ')'))];
    const sets = names.map((name, i) => line(name, workspaces.filter(m => m.workspace + ' (worker ' + m.worker + ')' === name)
      .map(m => ({x: m.epoch, y: m.block_bytes / 1048576})), i));
    if (process.length) sets.push(line('process peak (host)', process.map(m => ({x: m.epoch, y: m.host_peak_bytes / 1048576})), names.length));
    if (process.length) sets.push(line('resident set', process.map(m => ({x: m.epoch, y: m.resident_bytes / 1048576})), names.length + 1));
    // Workspaces and the whole process differ by orders of magnitude: a logarithmic axis.
    sets.forEach(set => { set.data = set.data.filter(p => p.y > 0); });
    chart('Memory per epoch (MiB)', {type: 'line', data: {datasets: sets},
      options: {scales: {x: linear('epoch'), y: {type: 'logarithmic', title: {display: true, text: 'MiB'}}}}});
  }
  const confusion = end && end.confusion ? end.confusion : null;
  if (confusion) {
    const top = Math.max(1, ...confusion.flat());
    let table = '<table><tr><th>true \\ predicted</th>' + confusion.map((_, c) => '<th>' + c + '</th>').join('') + '</tr>';
    confusion.forEach((row, r) => {
      table += '<tr><th>' + r + '</th>' + row.map((n, c) => '<td style="background: rgba(' + (r === c ? '26,127,55' : '207,34,46') + ',' +
        (n / top).toFixed(3) + ')">' + n + '</td>').join('') + '</tr>';
    });
    card('Confusion matrix (last evaluation)').insertAdjacentHTML('beforeend', table + '</table>');
  }

  // Self-check: every canvas drew something; no error; no request was attempted.
  let drawn = 0;
  for (const c of charts) {
    const pixels = c.canvas.getContext('2d').getImageData(0, 0, c.canvas.width, c.canvas.height).data;
    for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { drawn++; break; } }
  }
  setTimeout(() => {
    document.getElementById('report-check').textContent = JSON.stringify({charts: charts.length, drawn, errors, blocked});
  }, 0);
})();
)JS";

}  // namespace

std::string chartJsSource() {
    const char* override = std::getenv("COHORT_CHARTJS");
    const std::string path = override && *override ? override : COHORT_CHARTJS_PATH;
    std::ifstream in(path);
    if (!in) {
        throw InputError("the HTML report needs Chart.js, not found at " + path +
                         "; install Debian's libjs-chart.js (or set COHORT_CHARTJS to chart.min.js)");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string renderReport(const std::vector<std::string>& metricsLines, const std::string& chartJs) {
    nlohmann::json events = nlohmann::json::array();
    for (const std::string& line : metricsLines) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            checkJsonNesting(line, "metrics line");
            events.push_back(nlohmann::json::parse(line));
        } catch (const std::exception&) {
            events.push_back({{"event", "unreadable"}});  // a line cut short by a crash: skipped
        }
    }
    // "</" never appears inside the page's own script: the data cannot end the script element.
    std::string data = events.dump();
    for (std::size_t at = data.find("</"); at != std::string::npos; at = data.find("</", at + 3)) data.replace(at, 2, "<\\/");
    std::string page = kPageStart;
    page += chartJs;
    page += "\n</script>\n<script>\nconst events = " + data + ";\n";
    page += kPageScript;
    page += "</script>\n</body></html>\n";
    return page;
}

void writeReport(const std::string& path, const std::vector<std::string>& lines, const std::string& chartJs) {
    writeFileAtomically(path, renderReport(lines, chartJs), "--report");
}

}  // namespace cohort::launch
