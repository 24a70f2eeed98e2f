// The parts of ECharts the pages use (line and bar charts, the custom Gantt series, tooltip,
// grid, legend, SVG rendering), bundled at set-up by esbuild (`make assets`) into
// node_modules/.build/echarts.min.js and served by the app as /vendor/echarts.min.js.
import * as echarts from 'echarts/core';
import { BarChart, CustomChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([BarChart, CustomChart, LineChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);
window.echarts = echarts;
