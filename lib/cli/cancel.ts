// `betanmf cancel`: stop a queued or running job.
import type { Command } from 'commander';
import { queueOption, redisOption, withQueue, type Where } from './queue';

export function cancelCommand(cli: Command): void {
  cli
    .command('cancel')
    .description('cancel a queued or running job')
    .argument('<id>', 'job id (as `submit` printed it)')
    .addOption(redisOption())
    .addOption(queueOption())
    .action(async (id: string, f: Where) => {
      const asked = await withQueue(f, (q) => q.cancel(id));
      process.stdout.write(asked ? `cancelling ${id}\n` : `${id} had already finished\n`);
    });
}
