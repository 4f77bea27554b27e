import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import newsroom from '../../examples/newsroom.config.ts';
import { NightshiftPipeline } from '../../lib/nightshift-pipeline.ts';
import reference from '../../nightshift.config.ts';
import { testApp } from '../support/template.ts';

/** A pipeline inside a stack the user already has, beside another pipeline. */
describe('NightshiftPipeline', () => {
  const app = testApp();
  const stack = new Stack(app, 'MyPlatform');
  new NightshiftPipeline(stack, 'Content', { pipeline: reference });
  new NightshiftPipeline(stack, 'News', { pipeline: newsroom });
  // A third, monitored the CloudWatch way, in the same stack: its dashboard and alarms are its own.
  new NightshiftPipeline(stack, 'Legacy', { pipeline: { ...newsroom, stage: 'legacy', monitoring: 'cloudwatch' } });
  const template = Template.fromStack(stack);
  const resources = Object.values(template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>);
  const named = (type: string, property: string) => resources.filter((r) => r.Type === type).map((r) => JSON.stringify(r.Properties[property]));

  it('adds a whole pipeline to a stack of the user\'s own, twice, with every name that must be unique kept apart', () => {
    expect(named('AWS::Scheduler::ScheduleGroup', 'Name').sort()).toEqual(['"newsroom-dev"', '"newsroom-legacy"', '"nightshift-dev"']);
    expect(named('AWS::CloudWatch::Dashboard', 'DashboardName')).toEqual(['"newsroom-legacy"']);
    const alarms = named('AWS::CloudWatch::Alarm', 'AlarmName').filter((n) => n !== undefined);
    expect(alarms).toEqual(expect.arrayContaining(['"newsroom-dev-watch-silent"', '"nightshift-dev-watch-silent"']));
    expect(new Set(alarms).size).toBe(alarms.length);
    // CloudFormation identifies a schedule by its name alone: each embedded pipeline's start with its name and stage.
    const schedules = resources.filter((r) => r.Type === 'AWS::Scheduler::Schedule' && r.Properties.Name).map((r) => String(r.Properties.Name));
    expect(new Set(schedules).size).toBe(schedules.length);
    expect(schedules).toEqual(expect.arrayContaining(['newsroom-dev-scout-0', 'newsroom-legacy-scout-0', 'nightshift-dev-planner-0']));
    expect(resources.filter((r) => r.Type === 'AWS::DynamoDB::Table')).toHaveLength(9);
  });

  it('keys its outputs by the pipeline\'s name and stage, which the ops CLI finds with --stack', () => {
    const outputs = Object.keys(template.toJSON().Outputs as Record<string, unknown>);
    expect(outputs).toContain('NightshiftDevCoordinationTableName');
    expect(outputs).toContain('NewsroomDevMemoryQueueUrl');
  });

  it('refuses the same pipeline name and stage twice in one app, naming both places', () => {
    const again = new Stack(app, 'Elsewhere');
    expect(() => new NightshiftPipeline(again, 'Copy', { pipeline: reference })).toThrow(
      "NightshiftPipeline Elsewhere/Copy: pipeline 'nightshift' stage 'dev' is already at MyPlatform/Content; give one of them another name or stage",
    );
  });

  it('warns when -c config= names a file the construct was not given, instead of ignoring it silently', () => {
    const withContext = new (app.constructor as typeof import('aws-cdk-lib').App)({ context: { config: 'other.config.ts', 'aws:cdk:bundling-stacks': [] } });
    const own = new Stack(withContext, 'Mine');
    new NightshiftPipeline(own, 'Pipeline', { pipeline: newsroom });
    Annotations.fromStack(own).hasWarning('/Mine/Pipeline', Match.stringLikeRegexp('-c config=other.config.ts is set, but this NightshiftPipeline was given pipeline .newsroom.'));
  });
});
