/** The dependencies engine: imports against the nearest package.json, requirements/pyproject, or go.mod. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGovernance, type Governance } from '../../../backend/governance/index.js';
import { tempDir, writeFiles } from './helpers.js';

const project = tempDir();
let gov: Governance;

beforeAll(async () => {
  writeFiles(project.dir, {
    'package.json': JSON.stringify({ name: '@acme/web', dependencies: { express: '5' }, devDependencies: { vitest: '4', '@types/node': '20' } }),
    'packages/api/package.json': JSON.stringify({ name: 'api', dependencies: { zod: '4' } }),
    'py/requirements.txt': 'requests>=2.31  # http\nPyYAML==6.0\n-e git+https://example.com/x.git#egg=internal_tool\nscikit-learn ; python_version > "3.8"\n',
    'py/helpers.py': '',
    'poetry/pyproject.toml': '[project]\nname = "my-app"\ndependencies = [\n  "httpx>=0.27",\n  "pydantic[email]",\n]\n\n[tool.poetry.group.dev.dependencies]\npytest = "^8"\n',
    'svc/go.mod': 'module example.com/svc\n\ngo 1.22\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.10.0\n\tgolang.org/x/sync v0.7.0 // indirect\n)\n',
  });
  gov = await createGovernance({ cwd: project.dir, lazy: true });
});

afterAll(async () => {
  await gov.close();
  project.cleanup();
});

const missing = async (path: string, content: string): Promise<string[]> => {
  const report = await gov.validate([{ path, content }]);
  return report.findings.filter((f) => f.ruleId === 'missing-dependency').map((f) => `${f.line}:${f.column} ${f.message.split('"')[1] ?? ''}`);
};

describe('dependencies', () => {
  it('checks JS/TS imports against the nearest package.json', async () => {
    const code = [
      "import express from 'express';",
      "import { z } from 'zod';",
      "import fs from 'node:fs';",
      "import path from 'path';",
      "import { helper } from './helper.js';",
      "export { thing } from 'lodash/fp';",
      "const chalk = require('chalk');",
      "const lazy = await import('@scope/pkg/sub');",
      "import { test } from 'vitest';",
      "import self from '@acme/web/utils';",
      "try { require('optional-native'); } catch {}",
      "const notAnImport = 'left-pad';",
    ].join('\n');
    expect(await missing('src/app.ts', code)).toEqual(['2:19 zod', '6:23 lodash', '7:23 chalk', '8:27 @scope/pkg']);
    // The nearest manifest wins: packages/api declares zod but not express.
    expect(await missing('packages/api/src/index.ts', "import { z } from 'zod';\nimport express from 'express';\n")).toEqual(['2:21 express']);
  });

  it('accepts type-only imports satisfied by @types packages', async () => {
    expect(await missing('src/types.ts', "import type { Server } from 'node:http';\nimport type { Foo } from 'node';\n")).toEqual([]);
  });

  it('checks Python imports against requirements*.txt, knowing the standard library and import-name aliases', async () => {
    const code = [
      'import os, sys',
      'import requests',
      'import yaml',
      'from sklearn import svm',
      'import numpy as np',
      'from . import sibling',
      'from helpers import util',
      'import internal_tool',
      'from flask import Flask',
      'try:',
      '    import ujson as json',
      'except ImportError:',
      '    import json',
    ].join('\n');
    expect(await missing('py/app.py', code)).toEqual(['5:8 numpy', '9:6 flask']);
  });

  it('reads PEP 621 and Poetry dependencies from pyproject.toml', async () => {
    expect(await missing('poetry/src/main.py', 'import httpx\nimport pydantic\nimport pytest\nimport my_app\nimport rich\n')).toEqual(['5:8 rich']);
  });

  it('checks Go imports against go.mod, treating the standard library and the module itself as present', async () => {
    const code = 'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"github.com/gin-gonic/gin"\n\t"golang.org/x/sync/errgroup"\n\t"example.com/svc/internal/db"\n\t"github.com/spf13/cobra"\n)\n';
    expect(await missing('svc/cmd/main.go', code)).toEqual(['9:2 github.com/spf13/cobra']);
  });

  it('stays silent without a manifest, outside the cwd, and when the caller turns it off', async () => {
    const bare = tempDir();
    try {
      const elsewhere = await createGovernance({ cwd: bare.dir, lazy: true });
      const report = await elsewhere.validate([{ path: 'a.py', content: 'import numpy\n' }]);
      expect(report.findings).toEqual([]);
      await elsewhere.close();
    } finally {
      bare.cleanup();
    }
    expect(await missing('../outside.ts', "import x from 'left-pad';\n")).toEqual([]);
    const off = await gov.validate([{ path: 'src/x.ts', content: "import x from 'left-pad';\n" }], { checkDependencies: false });
    expect(off.findings).toEqual([]);
  });
});
