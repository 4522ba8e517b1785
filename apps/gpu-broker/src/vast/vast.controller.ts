import { Controller } from '@nestjs/common';
import { Consume } from '@trainyard/messaging';
import { VastProvider } from './vast-provider.service';

@Controller()
export class VastController {
  constructor(private readonly vast: VastProvider) {}

  @Consume('run.completed')
  onRunCompleted() {
    return this.vast.runCompleted();
  }
}
