import { Controller, HttpException } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume, PermanentError } from '@trainyard/messaging';
import { StudyRequest } from './study-request';
import { StudyService } from './study.service';

/** Studies requested on the bus (study.requested), through the same checks as POST /studies. */
@Controller()
export class StudiesController {
  constructor(private readonly studies: StudyService) {}

  /** A study it cannot run, or another request under a taken id, is dead-lettered with the reasons. */
  @Consume('study.requested')
  async onStudyRequested(@Payload() m: EventMessage<'study.requested'>) {
    const { schemaVersion: _v, id: _id, occurredAt: _at, requestedBy: _by, ...body } = m;
    const parsed = StudyRequest.safeParse(body);
    if (!parsed.success) throw new PermanentError(`study ${m.studyId} refused: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    try {
      await this.studies.create(parsed.data);
    } catch (err) {
      if (err instanceof HttpException && err.getStatus() < 500) throw new PermanentError(err.message);
      throw err;
    }
  }
}
