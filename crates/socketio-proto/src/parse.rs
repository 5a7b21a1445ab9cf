//! Parsing the text of one packet:
//! `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`.

use crate::binary::check_placeholders;
use crate::packet::MAIN_NAMESPACE;
use crate::validate::{ack_id_is_valid, payload_is_valid};
use crate::{Error, Packet, PacketType, Payload, Str};

/// Parses `text` into a packet (with no attachments yet) and the number of attachments
/// that must follow it.
///
/// Follows the reference parser's grammar, minus its JavaScript number-coercion quirks:
/// the attachment count and the ack id must be plain ASCII digits.
///
/// The payload is checked as strictly as parsing it into a `Value` would, but kept as a slice
/// of `message`.
pub(crate) fn parse_text(message: &Str, max_attachments: usize) -> Result<(Packet, usize), Error> {
    let text = message.as_str();
    let bytes = text.as_bytes();
    let kind = bytes
        .first()
        .and_then(|b| b.checked_sub(b'0'))
        .and_then(PacketType::from_u8)
        .ok_or(Error::InvalidPacketType)?;
    // Every position below sits right after an ASCII byte, hence on a char boundary, so
    // slicing `text` there cannot split a character.
    let mut pos = 1;

    let mut expected = 0;
    if kind.is_binary() {
        let digits = digit_run(bytes, pos);
        if digits == 0 || bytes.get(pos + digits) != Some(&b'-') {
            return Err(Error::InvalidAttachmentCount);
        }
        // Saturating: an absurd count must be reported, not wrapped into a small one.
        let claimed = bytes[pos..pos + digits].iter().fold(0usize, |n, d| {
            n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
        });
        if claimed > max_attachments {
            return Err(Error::TooManyAttachments {
                claimed,
                max: max_attachments,
            });
        }
        expected = claimed;
        pos += digits + 1;
    }

    let mut nsp = MAIN_NAMESPACE;
    if bytes.get(pos) == Some(&b'/') {
        // The namespace runs to the next ',' or, as in `0/admin`, to the end.
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b',')
            .map_or(bytes.len(), |i| pos + i);
        nsp = &text[pos..end];
        pos = (end + 1).min(bytes.len());
    }

    let digits = digit_run(bytes, pos);
    let id = if digits > 0 {
        let id = text[pos..pos + digits]
            .parse::<u64>()
            .map_err(|_| Error::InvalidAckId)?;
        pos += digits;
        Some(id)
    } else {
        None
    };
    if !ack_id_is_valid(kind, id) {
        return Err(Error::InvalidAckId);
    }

    let data = if pos >= bytes.len() {
        None
    } else {
        // `pos` is on a char boundary (see above), so the slice exists.
        let rest = message.slice_from(pos).ok_or(Error::InvalidPacketType)?;
        Some(Payload::checked(rest)?)
    };
    if !payload_is_valid(kind, data.as_ref().map(Payload::shape)) {
        return Err(Error::InvalidPayload);
    }
    if let (true, Some(data)) = (kind.is_binary(), &data) {
        // Checked now rather than once the attachments are in, so a bad packet is refused
        // before we buffer anything for it. Binary packets are rare: a tree is fine here.
        check_placeholders(&data.to_value(), expected)?;
    }

    let packet = Packet {
        kind,
        nsp: nsp.to_owned(),
        id,
        data,
        attachments: Vec::new(),
    };
    Ok((packet, expected))
}

/// Length of the run of ASCII digits starting at `pos` (0 when `pos` is past the end).
fn digit_run(bytes: &[u8], pos: usize) -> usize {
    bytes.get(pos..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}
