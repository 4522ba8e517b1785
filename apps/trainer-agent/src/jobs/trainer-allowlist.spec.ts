import { parseTrainers } from './trainer-allowlist';

describe('AGENT_TRAINERS', () => {
  it('reads per-job and worker trainers by name, their command lines split on whitespace', () => {
    const trainers = parseTrainers('pytorch=python3  examples/pytorch/train.py ; worker:torch-serve=python3 examples/pytorch/train.py --serve');
    expect(trainers.get('pytorch')).toEqual({ command: ['python3', 'examples/pytorch/train.py'], worker: false });
    expect(trainers.get('torch-serve')).toEqual({ command: ['python3', 'examples/pytorch/train.py', '--serve'], worker: true });
    expect([...trainers.keys()]).toEqual(['pytorch', 'torch-serve']);
  });

  it('names the entry it cannot read', () => {
    expect(() => parseTrainers('worker:Bad=x')).toThrow('"Bad" is not a trainer name');
    expect(() => parseTrainers('worker:=x')).toThrow('"" is not a trainer name');
    expect(() => parseTrainers('worker:noop')).toThrow('trainer "noop" has no command line');
    expect(() => parseTrainers('noop=/bin/true; worker:noop=/bin/cat')).toThrow('trainer "noop" is listed twice');
  });
});
