//! The ChatML chat template, as SmolLM2-Instruct's `tokenizer.chat_template` writes it.

/// The system prompt SmolLM2's template puts first when the conversation has none.
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

/// Renders `messages` as a ChatML prompt: each message as
/// `<|im_start|>{role}\n{content}<|im_end|>\n`, preceded by a system message with
/// [`DEFAULT_SYSTEM_PROMPT`] when the first message is not a system message, and followed by
/// `<|im_start|>assistant\n` when `add_generation_prompt` is set. No BOS: the prompt starts
/// with `<|im_start|>`. Encode it with special-token parsing on.
pub fn apply_chat_template(messages: &[ChatMessage], add_generation_prompt: bool) -> String {
    let mut prompt = String::new();
    let mut push = |role: &str, content: &str| {
        prompt.push_str("<|im_start|>");
        prompt.push_str(role);
        prompt.push('\n');
        prompt.push_str(content);
        prompt.push_str("<|im_end|>\n");
    };
    if messages.first().is_some_and(|first| first.role != "system") {
        push("system", DEFAULT_SYSTEM_PROMPT);
    }
    for message in messages {
        push(&message.role, &message.content);
    }
    if add_generation_prompt {
        prompt.push_str("<|im_start|>assistant\n");
    }
    prompt
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
