/** The human-readable note written on the invoice in the host (chatter / ir.note), in Polish and English. */
import type { Outcome } from '../../domain.ts';

export function noteFor(outcome: Outcome, messageId: string | null): string {
  const accepted = outcome.recipients.filter((r) => r.accepted).map((r) => r.address);
  const refused = outcome.recipients.filter((r) => !r.accepted);
  const id = messageId ? ` [Message-ID ${messageId}]` : '';
  switch (outcome.state) {
    case 'sent':
      return (
        `Invoice Courier: faktura wysłana e-mailem do ${accepted.join(', ')} / invoice e-mailed to ${accepted.join(', ')}.` +
        (refused.length ? ` Odrzuceni / refused: ${refused.map((r) => `${r.address} (${r.reply ?? '?'})`).join(', ')}.` : '') +
        id
      );
    case 'drafted':
      return `Invoice Courier: wiadomość z fakturą zapisana w folderze Robocze dla ${accepted.join(', ')} / message saved to Drafts for ${accepted.join(', ')}.${id}`;
    case 'failed':
      return `Invoice Courier: nie wysłano faktury / invoice not sent: ${outcome.detail ?? outcome.reason ?? 'error'}.${id}`;
    case 'uncertain':
      return `Invoice Courier: wysyłka przerwana, stan niepewny — sprawdź przed ponowną wysyłką / delivery interrupted, outcome uncertain.${id}`;
    default:
      return `Invoice Courier: ${outcome.state}: ${outcome.detail ?? ''}${id}`;
  }
}
