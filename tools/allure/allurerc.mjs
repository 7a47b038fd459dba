// Allure 3 configuration for `make report`: one self-contained HTML file, failures grouped by cause.
// Categories live here (the awesome plugin ignores categories.json in the results directory).
export default {
  name: "replicheck certification",
  output: "../../reports/allure-report",
  plugins: {
    awesome: {
      options: { singleFile: true, reportName: "replicheck", groupBy: ["feature", "story"] },
    },
  },
  categories: {
    rules: [
      { name: "Setup problems (cluster, binaries, tools)", matchedStatuses: ["failed", "broken"], messageRegex: ".*(SetupError|not found|not healthy|is not writable|in use).*" },
      { name: "Timed out waiting for convergence", matchedStatuses: ["failed"], messageRegex: ".*timed out after.*" },
      { name: "Known deviations", matchedStatuses: ["skipped"], messageRegex: ".*known deviation.*" },
      { name: "Contract violations", matchedStatuses: ["failed"] },
      { name: "Broken tests", matchedStatuses: ["broken"] },
    ],
  },
};
