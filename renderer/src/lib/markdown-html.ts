import DOMPurify from 'dompurify';
import { Parser, Renderer, type Token, type Tokens } from 'marked';

/**
 * Turns one markdown block into safe HTML. Raw HTML in a reply is never interpreted: marked's
 * `html` tokens are rendered as escaped text, so `<img onerror=…>` shows as the characters the
 * model wrote. The result still goes through DOMPurify, in case a future marked change lets
 * markup through, and links open in a new window without access to this page
 * (`rel="noopener noreferrer"`); in the desktop app the window-open guard sends them to the
 * system browser through its allow-list.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

class ReplyRenderer extends Renderer {
  override html(token: Tokens.HTML | Tokens.Tag): string {
    return escapeHtml(token.text);
  }

  override code(token: Tokens.Code): string {
    // Only nested code (inside a list or quote) gets here; top-level code has its own component.
    return `<pre class="nested-code"><code>${escapeHtml(token.text)}</code></pre>`;
  }

  override checkbox({ checked }: Tokens.Checkbox): string {
    return `<input type="checkbox" disabled aria-label="${checked ? 'done' : 'to do'}"${checked ? ' checked' : ''}> `;
  }
}

const renderer = new ReplyRenderer();
let hooked = false;

function purify(html: string): string {
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A') {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      }
    });
    hooked = true;
  }
  return DOMPurify.sanitize(html, {
    ADD_ATTR: ['target'],
    FORBID_TAGS: ['style', 'form', 'iframe', 'object', 'embed', 'img', 'video', 'audio', 'svg', 'math'],
    FORBID_ATTR: ['style'],
  });
}

/** HTML for a run of inline tokens (a slice of a long paragraph). */
export function inlineHtml(tokens: Token[]): string {
  return purify(new Parser({ gfm: true, renderer }).parseInline(tokens));
}

export function blockHtml(token: Token): string {
  const html = new Parser({ gfm: true, renderer }).parse([token]).trim();
  return purify(html);
}

/** Sanitizes highlighter output (spans and text only). */
export function safeHighlight(html: string): string {
  return DOMPurify.sanitize(html, { ALLOWED_TAGS: ['span'], ALLOWED_ATTR: ['class'] });
}
