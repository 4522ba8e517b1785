#!/usr/bin/env node
require('../tools/cli/dist/main.js');
