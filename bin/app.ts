#!/usr/bin/env -S npx tsx
import { App } from 'aws-cdk-lib';
import { pipelineApp } from '../lib/pipeline-app.ts';

await pipelineApp(new App());
