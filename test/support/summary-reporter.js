/**
 * Prints one plain closing line, "jest: N passed, N failed, N skipped", so that tools reading a
 * run's last lines see what ran without parsing jest's own summary.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    this.line = `jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${
      results.numPendingTests + results.numTodoTests
    } skipped\n`;
  }

  // Called after every reporter's onRunComplete, so the line comes after jest's own summary.
  getLastError() {
    if (this.line) process.stderr.write(this.line);
    this.line = null;
    return undefined;
  }
}
module.exports = SummaryReporter;
