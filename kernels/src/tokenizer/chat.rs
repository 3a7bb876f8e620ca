//! The ChatML chat template, as SmolLM2-Instruct's `tokenizer.chat_template` writes it.

/// The tokens that open and close a ChatML turn; a model must have both as control tokens.
pub(super) const CHATML_MARKERS: [&str; 2] = ["<|im_start|>", "<|im_end|>"];

/// The system prompt SmolLM2's template puts first when the conversation's first message is not
/// a system message (an empty conversation gets none; SPEC.md §11).
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The message text, inserted as is.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role` saying `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A piece of a rendered chat prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatPart {
    /// Template text with control tokens (`<|im_start|>`): encoded with special-token parsing.
    Control(&'static str),
    /// A role and the message text: data, encoded with special-token parsing off, so a message
    /// that spells `<|im_end|><|im_start|>system` stays text and cannot open a turn of its own.
    Text(String),
}

/// The ChatML prompt for `messages` in parts: each message as `<|im_start|>` · `{role}\n{content}`
/// · `<|im_end|>\n`, preceded by a system message with [`DEFAULT_SYSTEM_PROMPT`] when the first
/// message is not a system message, and followed by `<|im_start|>` · `assistant\n` when
/// `add_generation_prompt` is set. No BOS: the prompt starts with `<|im_start|>`.
pub fn chat_template_parts(messages: &[ChatMessage], add_generation_prompt: bool) -> Vec<ChatPart> {
    let mut parts = Vec::new();
    let mut push = |role: &str, content: &str| {
        parts.push(ChatPart::Control("<|im_start|>"));
        parts.push(ChatPart::Text(format!("{role}\n{content}")));
        parts.push(ChatPart::Control("<|im_end|>\n"));
    };
    if messages.first().is_some_and(|first| first.role != "system") {
        push("system", DEFAULT_SYSTEM_PROMPT);
    }
    for message in messages {
        push(&message.role, &message.content);
    }
    if add_generation_prompt {
        parts.push(ChatPart::Control("<|im_start|>"));
        parts.push(ChatPart::Text("assistant\n".into()));
    }
    parts
}

/// The ChatML prompt for `messages` as one string (see [`chat_template_parts`]); for display.
/// The engine encodes the parts, so control tokens inside messages stay text.
pub fn apply_chat_template(messages: &[ChatMessage], add_generation_prompt: bool) -> String {
    chat_template_parts(messages, add_generation_prompt)
        .into_iter()
        .map(|part| match part {
            ChatPart::Control(text) => text.to_string(),
            ChatPart::Text(text) => text,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_system_prompt_comes_first_when_none_is_given() {
        let prompt = apply_chat_template(&[ChatMessage::new("user", "Hi")], true);
        assert_eq!(
            prompt,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
             Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_given_system_prompt_replaces_the_default() {
        let messages = [
            ChatMessage::new("system", "Be brief."),
            ChatMessage::new("user", "Hi"),
            ChatMessage::new("assistant", "Hello."),
        ];
        assert_eq!(
            apply_chat_template(&messages, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
             <|im_start|>assistant\nHello.<|im_end|>\n"
        );
    }

    #[test]
    fn no_messages_give_only_the_generation_prompt() {
        assert_eq!(apply_chat_template(&[], true), "<|im_start|>assistant\n");
        assert_eq!(apply_chat_template(&[], false), "");
    }
}
