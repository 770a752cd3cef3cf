//! The protocol's tests: parsing every kind of frame and the exact JSON
//! of every event (the contract other clients rely on).

use super::*;
use crate::names::{RoomName, Username};
use serde_json::Value;

fn code(text: &str) -> ErrorCode {
    ClientFrame::parse(text).unwrap_err().code
}

#[test]
fn tutorial_frame_parses() {
    let frame = ClientFrame::parse(r#"{"message":"hi"}"#).unwrap();
    assert_eq!(
        frame,
        ClientFrame::Chat {
            text: MessageText::parse("hi").unwrap(),
            client_id: None
        }
    );
    assert_eq!(ClientFrame::parse(&frame.to_json()).unwrap(), frame);
}

#[test]
fn bad_frames_get_specific_codes() {
    assert_eq!(code("{nope"), ErrorCode::InvalidJson);
    assert_eq!(code("[1,2]"), ErrorCode::InvalidFrame);
    assert_eq!(code(r#"{"message":5}"#), ErrorCode::InvalidMessage);
    assert_eq!(code(r#"{"text":"hi"}"#), ErrorCode::InvalidMessage);
    assert_eq!(code(r#"{"message":"  \n"}"#), ErrorCode::EmptyMessage);
    assert_eq!(
        code(r#"{"type":"dance","message":"hi"}"#),
        ErrorCode::UnknownType
    );
    assert_eq!(code(r#"{"type":7}"#), ErrorCode::UnknownType);
    assert_eq!(
        code(r#"{"type":"history","before_seq":0}"#),
        ErrorCode::InvalidFrame
    );
    assert_eq!(
        code(r#"{"type":"history","limit":500}"#),
        ErrorCode::InvalidFrame
    );
    assert_eq!(
        code(r#"{"type":"history","limit":"5"}"#),
        ErrorCode::InvalidFrame
    );
    let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(MESSAGE_MAX_CHARS + 1));
    assert_eq!(code(&long), ErrorCode::MessageTooLong);
}

#[test]
fn edit_delete_react_frames_parse_and_round_trip() {
    let edit = ClientFrame::parse(r#"{"type":"edit","seq":42,"message":"hi, fixed"}"#).unwrap();
    assert_eq!(
        edit,
        ClientFrame::Edit {
            seq: 42,
            text: MessageText::parse("hi, fixed").unwrap(),
            client_id: None,
        }
    );
    // An edit may carry a client id, and writes it back.
    let edit = ClientFrame::parse(r#"{"type":"edit","seq":3,"message":"fixed","client_id":"e-1"}"#)
        .unwrap();
    assert_eq!(edit.client_id().map(ClientId::as_str), Some("e-1"));
    assert_eq!(ClientFrame::parse(&edit.to_json()).unwrap(), edit);
    let delete = ClientFrame::parse(r#"{"type":"delete","seq":3}"#).unwrap();
    let react = ClientFrame::parse(r#"{"type":"react","seq":3,"emoji":"👍"}"#).unwrap();
    for frame in [edit, delete, react] {
        assert_eq!(ClientFrame::parse(&frame.to_json()).unwrap(), frame);
    }
    assert_eq!(
        code(r#"{"type":"edit","message":"x"}"#),
        ErrorCode::InvalidFrame
    );
    assert_eq!(
        code(r#"{"type":"edit","seq":1}"#),
        ErrorCode::InvalidMessage
    );
    assert_eq!(
        code(r#"{"type":"edit","seq":1,"message":" "}"#),
        ErrorCode::EmptyMessage
    );
    assert_eq!(
        code(r#"{"type":"delete","seq":0}"#),
        ErrorCode::InvalidFrame
    );
    assert_eq!(
        code(r#"{"type":"react","seq":1,"emoji":"ok"}"#),
        ErrorCode::InvalidEmoji
    );
    assert_eq!(
        code(r#"{"type":"react","seq":1,"emoji":""}"#),
        ErrorCode::InvalidEmoji
    );
    assert_eq!(code(r#"{"type":"react","seq":1}"#), ErrorCode::InvalidEmoji);
    assert!(Emoji::parse("👍🏽").is_ok());
    assert!(Emoji::parse("❤️").is_ok());
}

#[cfg(feature = "ssr")]
#[test]
fn the_server_takes_only_real_emojis_and_visible_text() {
    for bad in ["ИДИОТ", "\u{202E}", "👍👍", "→", "\u{200B}"] {
        assert!(Emoji::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        Emoji::parse("❤").unwrap(),
        Emoji::parse("❤\u{FE0F}").unwrap()
    );
    for blank in ["\u{200B}", " \u{3164}\u{200D} ", "\u{202E}\n"] {
        assert_eq!(
            MessageText::parse(blank).unwrap_err().code,
            ErrorCode::EmptyMessage,
            "{blank:?}"
        );
    }
    assert_eq!(
        MessageText::parse("hi\u{1B}[2J").unwrap_err().code,
        ErrorCode::InvalidMessage
    );
    assert!(MessageText::parse("line one\n\tline two").is_ok());
    assert!(MessageText::parse("שלום \u{202B}x\u{202C}").is_ok());
}

#[test]
fn unbalanced_direction_controls_are_refused_and_balanced_ones_kept() {
    for bad in [
        "invoice\u{202E}fdp.exe",
        "a\u{2067}b",
        "open \u{202A}here\nclosed\u{202C} there",
        "a\u{202C}b",
        "a\u{2069}b",
        "\u{2066}a\u{202B}b\u{2069}",
        "\u{202B}a\u{2066}b\u{202C}\u{2069}",
    ] {
        let refused = MessageText::parse(bad).unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidMessage, "{bad:?}");
    }
    for good in [
        "\u{202E}olleh\u{202C} world",
        "\u{2067}שלום\u{2069} and \u{2066}a\u{202B}b\u{202C}\u{2069}",
        "mark\u{200F} only",
        "line \u{202B}x\u{202C}\nnext \u{2068}y\u{2069}",
    ] {
        assert!(MessageText::parse(good).is_ok(), "{good:?}");
    }
    // Blank-looking messages stay refused: Braille blank, Hangul filler.
    for blank in ["\u{2800}", "\u{3164}"] {
        assert_eq!(
            MessageText::parse(blank).unwrap_err().code,
            ErrorCode::EmptyMessage,
            "{blank:?}"
        );
    }
}

#[test]
fn history_frames_parse_with_defaults() {
    assert_eq!(
        ClientFrame::parse(r#"{"type":"history","before_seq":40,"limit":10}"#).unwrap(),
        ClientFrame::History {
            before_seq: Some(40),
            limit: 10
        }
    );
    let latest = ClientFrame::parse(r#"{"type":"history"}"#).unwrap();
    assert_eq!(
        latest,
        ClientFrame::History {
            before_seq: None,
            limit: HISTORY_PAGE
        }
    );
    assert_eq!(ClientFrame::parse(&latest.to_json()).unwrap(), latest);
}

#[test]
fn pm_commands_parse_and_explain_mistakes() {
    assert_eq!(
        ClientFrame::parse(r#"{"message":"/pm bob  psst, hi"}"#).unwrap(),
        ClientFrame::PrivateMessage {
            to: Username::parse("bob").unwrap(),
            text: MessageText::parse(" psst, hi").unwrap(),
            client_id: None,
        }
    );
    // A /pm carries a client id as a chat message does, and writes it back.
    let pm = ClientFrame::parse(r#"{"message":"/pm bob psst","client_id":"k-1"}"#).unwrap();
    assert_eq!(pm.client_id().map(ClientId::as_str), Some("k-1"));
    assert_eq!(ClientFrame::parse(&pm.to_json()).unwrap(), pm);
    assert_eq!(code(r#"{"message":"/pm"}"#), ErrorCode::InvalidCommand);
    assert_eq!(code(r#"{"message":"/pm   "}"#), ErrorCode::InvalidCommand);
    assert_eq!(code(r#"{"message":"/pm bob"}"#), ErrorCode::EmptyMessage);
    assert_eq!(code(r#"{"message":"/pm bob   "}"#), ErrorCode::EmptyMessage);
    assert_eq!(code(r#"{"message":"/pm b@d hi"}"#), ErrorCode::UnknownUser);
    // Not the command: ordinary text.
    assert!(matches!(
        ClientFrame::parse(r#"{"message":"/pmx hi"}"#).unwrap(),
        ClientFrame::Chat { .. }
    ));
    let pm = ClientFrame::parse(r#"{"message":"/pm bob psst"}"#).unwrap();
    assert_eq!(ClientFrame::parse(&pm.to_json()).unwrap(), pm);
    assert_eq!(
        ClientFrame::parse(r#"{"type":"typing"}"#).unwrap(),
        ClientFrame::Typing
    );
}

#[test]
fn presence_events_have_the_documented_shape() {
    let cases = [
        (
            ServerEvent::UserList {
                users: vec!["alice".into(), "bob".into()],
                online: 2,
            },
            serde_json::json!({"type":"user_list","users":["alice","bob"],"online":2}),
        ),
        (
            ServerEvent::UserCount { count: 1200 },
            serde_json::json!({"type":"user_count","count":1200}),
        ),
        (
            ServerEvent::UserJoin {
                user: "carol".into(),
                online: 3,
            },
            serde_json::json!({"type":"user_join","user":"carol","online":3}),
        ),
        (
            ServerEvent::UserLeave {
                user: "carol".into(),
                online: 2,
            },
            serde_json::json!({"type":"user_leave","user":"carol","online":2}),
        ),
        (
            ServerEvent::PrivateMessage {
                user: "alice".into(),
                message: "psst".into(),
                room: None,
                seq: None,
            },
            serde_json::json!({"type":"private_message","user":"alice","message":"psst"}),
        ),
        (
            ServerEvent::PrivateMessage {
                user: "alice".into(),
                message: "psst".into(),
                room: RoomName::parse_stored("@alice+bob").ok(),
                seq: Some(3),
            },
            serde_json::json!({"type":"private_message","user":"alice","message":"psst",
                               "room":"@alice+bob","seq":3}),
        ),
        (
            ServerEvent::PrivateMessageDelivered {
                target: "bob".into(),
                message: "psst".into(),
                client_id: None,
            },
            serde_json::json!({"type":"private_message_delivered","target":"bob","message":"psst"}),
        ),
        (
            ServerEvent::PrivateMessageDelivered {
                target: "bob".into(),
                message: "psst".into(),
                client_id: ClientId::parse("k-1").ok(),
            },
            serde_json::json!({"type":"private_message_delivered","target":"bob","message":"psst",
                               "client_id":"k-1"}),
        ),
    ];
    for (event, json) in cases {
        assert_eq!(
            serde_json::from_str::<Value>(&event.to_json()).unwrap(),
            json
        );
    }
}

#[test]
fn limit_counts_characters_not_bytes() {
    assert!(MessageText::parse(&"é".repeat(MESSAGE_MAX_CHARS)).is_ok());
}

#[test]
fn events_have_the_documented_shape() {
    let event = ServerEvent::ChatMessage(ChatMessage {
        room: RoomName::parse("lobby").unwrap(),
        seq: 42,
        id: "m1".into(),
        user: "alice".into(),
        message: "hi".into(),
        ts: "2026-11-21T10:00:00Z".into(),
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        client_id: None,
    });
    let json: Value = serde_json::from_str(&event.to_json()).unwrap();
    // Unedited, undeleted, unreacted: exactly the tutorials' shape.
    assert_eq!(
        json,
        serde_json::json!({"type":"chat_message","room":"lobby","seq":42,"id":"m1",
            "user":"alice","message":"hi","ts":"2026-11-21T10:00:00Z"})
    );
    let edited: Value = serde_json::from_str(
        &ServerEvent::MessageEdited {
            room: RoomName::parse("lobby").unwrap(),
            seq: 42,
            message: "hi!".into(),
            edited_at: "t".into(),
            client_id: None,
        }
        .to_json(),
    )
    .unwrap();
    assert_eq!(
        edited,
        serde_json::json!({"type":"message_edited","room":"lobby","seq":42,"message":"hi!","edited_at":"t"})
    );
    let limited: Value =
        serde_json::from_str(&ServerEvent::rate_limited("messages", 200).to_json()).unwrap();
    assert_eq!(limited["code"], "rate_limited");
    assert_eq!(limited["retry_after_ms"], 200);
    let err: Value =
        serde_json::from_str(&ServerEvent::error(ErrorCode::EmptyMessage, "x").to_json()).unwrap();
    assert_eq!(
        err,
        serde_json::json!({"type":"error","code":"empty_message","message":"x"})
    );
}

/// The wire names are the contract other clients match on: serde's
/// snake_case must give exactly the names the protocol has always used.
#[test]
fn error_codes_keep_their_wire_names() {
    use ErrorCode as C;
    let names = [
        (C::InvalidJson, "invalid_json"),
        (C::InvalidFrame, "invalid_frame"),
        (C::InvalidMessage, "invalid_message"),
        (C::EmptyMessage, "empty_message"),
        (C::MessageTooLong, "message_too_long"),
        (C::UnknownType, "unknown_type"),
        (C::BinaryNotSupported, "binary_not_supported"),
        (C::Unavailable, "unavailable"),
        (C::NotAuthenticated, "not_authenticated"),
        (C::InvalidCommand, "invalid_command"),
        (C::UnknownUser, "unknown_user"),
        (C::UserOffline, "user_offline"),
        (C::UnknownMessage, "unknown_message"),
        (C::Forbidden, "forbidden"),
        (C::InvalidEmoji, "invalid_emoji"),
        (C::RoomNameTaken, "room_name_taken"),
        (C::RateLimited, "rate_limited"),
    ];
    for (code, name) in names {
        assert_eq!(serde_json::to_value(code).unwrap(), name);
        assert_eq!(serde_json::from_value::<C>(name.into()).unwrap(), code);
    }
    let newer: C = serde_json::from_value("some_future_code".into()).unwrap();
    assert_eq!(newer, C::Other);
}

#[test]
fn a_chat_frame_may_carry_a_client_id_and_round_trips() {
    let frame = ClientFrame::parse(r#"{"message":"hi","client_id":"c-1_A"}"#).unwrap();
    let ClientFrame::Chat { text, client_id } = &frame else {
        panic!("{frame:?}");
    };
    assert_eq!(text.as_str(), "hi");
    assert_eq!(client_id.as_ref().map(ClientId::as_str), Some("c-1_A"));
    assert_eq!(ClientFrame::parse(&frame.to_json()).unwrap(), frame);
    let none = ClientFrame::parse(r#"{"message":"hi","client_id":null}"#).unwrap();
    assert!(matches!(
        none,
        ClientFrame::Chat {
            client_id: None,
            ..
        }
    ));
    for bad in [r#""""#, r#""a b""#, "7", &format!("\"{}\"", "x".repeat(65))] {
        let raw = format!(r#"{{"message":"hi","client_id":{bad}}}"#);
        assert_eq!(
            ClientFrame::parse(&raw).unwrap_err().code,
            ErrorCode::InvalidFrame,
            "{bad}"
        );
    }
    let ack = ServerEvent::Ack {
        client_id: ClientId::parse("c-1").unwrap(),
        seq: 42,
    };
    assert_eq!(
        ack.to_json(),
        r#"{"type":"ack","client_id":"c-1","seq":42}"#
    );
}
