//! Edits and deletions of transcript lines (docs/behaviour.md#edits-and-deletions). A
//! reply the visitor got is edited or taken back for them too; an internal note stays
//! internal whatever is done to it; and an edit may never move a line across that line
//! (a note made into a reply would reach the visitor unasked, a reply made into a note
//! would look taken back while the visitor still has it). Who may: the operator who
//! wrote it, or a manager or admin (Slack lets admins delete others' messages).

use super::actor::Actor;
use super::effects::Effect;
use super::ids::OperatorId;
use super::model::{Author, Policy, ReplyMode};

/// A transcript line as an edit finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub id: i64,
    pub author: Author,
    pub operator: Option<OperatorId>,
    /// Already deleted: nothing more can happen to it.
    pub deleted: bool,
}

/// What an edit or a deletion does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Store it and carry out these effects.
    Apply(Vec<Effect>),
    /// Nothing to do (a line that is not a reply or note, or already deleted).
    Ignore,
}

/// Why an edit or deletion is refused, in words for the person who tried.
pub type Refused = String;

fn may_touch(actor: &Actor, line: &Written, what: &str) -> Result<(), Refused> {
    match actor.operator() {
        Some(me) if Some(me) == line.operator => Ok(()),
        _ if actor.is_manager() => Ok(()),
        _ => Err(format!("only the operator who wrote it, or a manager, may {what} it")),
    }
}

/// An operator edits a line of theirs to `text`.
pub fn edit(actor: &Actor, line: &Written, text: &str, policy: &Policy) -> Result<Decided, Refused> {
    if line.deleted {
        return Ok(Decided::Ignore);
    }
    let becomes_note = policy.is_note(text);
    match line.author {
        Author::Operator => {
            may_touch(actor, line, "edit")?;
            if becomes_note {
                return Err(
                    "that reply was already sent to the visitor, and an edit cannot make it an internal note: \
                     the visitor still sees the reply as it was. Delete it to take it back"
                        .into(),
                );
            }
            if text.trim().is_empty() {
                return Err("a reply needs some text; delete it to take it back".into());
            }
            Ok(Decided::Apply(vec![
                Effect::WidgetEdit { message_id: line.id },
                Effect::MirrorEdit { message_id: line.id },
            ]))
        }
        Author::Note => {
            may_touch(actor, line, "edit")?;
            // In `command` reply mode every thread message is team talk: nothing to cross.
            if !becomes_note && policy.reply_mode == ReplyMode::Relay {
                return Err(format!(
                    "that message is an internal note, and an edit keeps it one: nothing was sent to the visitor. \
                     Write a new message to reply (notes start with `{}`)",
                    policy.note_prefix
                ));
            }
            Ok(Decided::Apply(vec![Effect::MirrorEdit { message_id: line.id }]))
        }
        // Visitor and bot lines are the widget platform's; a held reply is sent or
        // dropped by its button.
        Author::Visitor | Author::Bot | Author::Held => Ok(Decided::Ignore),
    }
}

/// An operator deletes a line of theirs.
pub fn delete(actor: &Actor, line: &Written) -> Result<Decided, Refused> {
    if line.deleted {
        return Ok(Decided::Ignore);
    }
    match line.author {
        Author::Operator => {
            may_touch(actor, line, "delete")?;
            Ok(Decided::Apply(vec![
                Effect::WidgetDelete { message_id: line.id },
                Effect::MirrorEdit { message_id: line.id },
            ]))
        }
        Author::Note => {
            may_touch(actor, line, "delete")?;
            Ok(Decided::Apply(vec![Effect::MirrorEdit { message_id: line.id }]))
        }
        Author::Visitor | Author::Bot | Author::Held => Ok(Decided::Ignore),
    }
}

/// The widget platform edits a visitor's or the bot's line: its thread copies follow.
pub fn widget_edit(line: &Written) -> Decided {
    match (line.author, line.deleted) {
        (Author::Visitor | Author::Bot, false) => Decided::Apply(vec![Effect::MirrorEdit { message_id: line.id }]),
        _ => Decided::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::Role;

    fn ada() -> Actor {
        Actor::Operator {
            id: OperatorId(1),
            role: Role::Agent,
        }
    }

    fn line(author: Author) -> Written {
        Written {
            id: 9,
            author,
            operator: Some(OperatorId(1)),
            deleted: false,
        }
    }

    #[test]
    fn a_reply_edit_reaches_the_visitor_and_a_note_edit_stays_internal() {
        let p = Policy::default();
        assert_eq!(
            edit(&ada(), &line(Author::Operator), "fixed", &p),
            Ok(Decided::Apply(vec![
                Effect::WidgetEdit { message_id: 9 },
                Effect::MirrorEdit { message_id: 9 }
            ]))
        );
        assert_eq!(
            edit(&ada(), &line(Author::Note), "// still a note", &p),
            Ok(Decided::Apply(vec![Effect::MirrorEdit { message_id: 9 }]))
        );
    }

    #[test]
    fn an_edit_never_moves_a_line_across_the_note_line() {
        let p = Policy::default();
        let why = edit(&ada(), &line(Author::Note), "now for the visitor", &p).unwrap_err();
        assert!(why.contains("internal note"), "{why}");
        let why = edit(&ada(), &line(Author::Operator), "// oops", &p).unwrap_err();
        assert!(why.contains("already sent to the visitor"), "{why}");
    }

    #[test]
    fn team_talk_in_command_mode_is_edited_freely() {
        let p = Policy {
            reply_mode: ReplyMode::Command,
            ..Policy::default()
        };
        assert_eq!(
            edit(&ada(), &line(Author::Note), "we should refund", &p),
            Ok(Decided::Apply(vec![Effect::MirrorEdit { message_id: 9 }]))
        );
    }

    #[test]
    fn only_the_writer_or_a_manager_may_edit_or_delete() {
        let p = Policy::default();
        let bo = Actor::Operator {
            id: OperatorId(2),
            role: Role::Agent,
        };
        assert!(edit(&bo, &line(Author::Operator), "x", &p).is_err());
        assert!(delete(&bo, &line(Author::Operator)).is_err());
        let boss = Actor::Operator {
            id: OperatorId(3),
            role: Role::Manager,
        };
        assert!(delete(&boss, &line(Author::Operator)).is_ok());
    }

    #[test]
    fn deleted_lines_and_lines_of_others_are_left_alone() {
        let p = Policy::default();
        let mut gone = line(Author::Operator);
        gone.deleted = true;
        assert_eq!(edit(&ada(), &gone, "x", &p), Ok(Decided::Ignore));
        assert_eq!(delete(&ada(), &gone), Ok(Decided::Ignore));
        assert_eq!(edit(&ada(), &line(Author::Visitor), "x", &p), Ok(Decided::Ignore));
        assert_eq!(widget_edit(&line(Author::Operator)), Decided::Ignore);
        assert_eq!(
            widget_edit(&line(Author::Visitor)),
            Decided::Apply(vec![Effect::MirrorEdit { message_id: 9 }])
        );
    }
}
