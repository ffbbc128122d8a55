package wire

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Notification is a NOTIFICATION message (RFC 4271 §4.5). Data aliases the
// decoded buffer.
type Notification struct {
	Code, Subcode uint8
	Data          []byte
}

// MaxShutdownMessageLen is the longest Shutdown Communication kbgp sends.
// RFC 9003 §6: "If it is known that the peer BGP speaker supports this
// specification, then a Shutdown Communication that is not longer than 255
// octets MAY be sent. Otherwise, ... it SHOULD NOT be longer than 128
// octets." kbgp does not know, so it sends at most 128.
const MaxShutdownMessageLen = 128

// maxShutdownReceiveLen is the longest Shutdown Communication kbgp accepts:
// RFC 9003 §2 allows "up to 255 octets" (the whole length octet).
const maxShutdownReceiveLen = 255

// AppendNotification appends a complete NOTIFICATION message.
func AppendNotification(b []byte, n *Notification) ([]byte, error) {
	b, off := beginMsg(b, MsgNotification)
	b = append(b, n.Code, n.Subcode)
	b = append(b, n.Data...)
	return endMsg(b, off, MaxExtMessageLen)
}

// Decode decodes a NOTIFICATION body. Data aliases body.
func (n *Notification) Decode(body []byte) error {
	if len(body) < 2 {
		return errf(NotifMessageHeader, HeaderBadLength, nil, "NOTIFICATION body is %d bytes, need 2", len(body))
	}
	n.Code, n.Subcode = body[0], body[1]
	n.Data = body[2:len(body):len(body)]
	if len(n.Data) == 0 {
		n.Data = nil
	}
	return nil
}

// NewShutdown returns a Cease NOTIFICATION with subcode CeaseAdminShutdown or
// CeaseAdminReset carrying a Shutdown Communication (RFC 9003 §2, a UTF-8
// string), at most MaxShutdownMessageLen octets (RFC 9003 §6).
func NewShutdown(subcode uint8, msg string) (*Notification, error) {
	if subcode != CeaseAdminShutdown && subcode != CeaseAdminReset {
		return nil, fmt.Errorf("wire: shutdown communication needs Cease subcode 2 or 4, not %d", subcode)
	}
	if len(msg) > MaxShutdownMessageLen {
		return nil, fmt.Errorf("wire: shutdown message is %d bytes, RFC 9003 allows at most %d", len(msg), MaxShutdownMessageLen)
	}
	if !utf8.ValidString(msg) {
		return nil, errors.New("wire: shutdown message is not valid UTF-8")
	}
	d := make([]byte, 0, 1+len(msg))
	d = append(d, byte(len(msg)))
	d = append(d, msg...)
	return &Notification{Code: NotifCease, Subcode: subcode, Data: d}, nil
}

// ShutdownMessage returns the RFC 9003 Shutdown Communication of a Cease /
// Administrative Shutdown or Reset NOTIFICATION. ok is false when there is
// none or it is malformed (RFC 9003 §4: a malformed communication is
// ignored, not treated as an error).
func (n *Notification) ShutdownMessage() (string, bool) {
	if n.Code != NotifCease || (n.Subcode != CeaseAdminShutdown && n.Subcode != CeaseAdminReset) || len(n.Data) == 0 {
		return "", false
	}
	l := int(n.Data[0])
	if l == 0 || l > len(n.Data)-1 || l > maxShutdownReceiveLen {
		return "", false
	}
	s := string(n.Data[1 : 1+l])
	if !utf8.ValidString(s) {
		return "", false
	}
	return s, true
}

// HardResetInner returns the code and subcode wrapped by a Cease / Hard
// Reset NOTIFICATION (RFC 8538 §3: "the Data field ... MUST contain the
// ErrCode and ErrSubcode of the original error").
func (n *Notification) HardResetInner() (code, subcode uint8, ok bool) {
	if n.Code != NotifCease || n.Subcode != CeaseHardReset || len(n.Data) < 2 {
		return 0, 0, false
	}
	return n.Data[0], n.Data[1], true
}

// String names the code and subcode and shows the shutdown message or the
// data in hex.
func (n *Notification) String() string {
	s := NotificationName(n.Code, n.Subcode)
	if m, ok := n.ShutdownMessage(); ok {
		return fmt.Sprintf("%s: %q", s, m)
	}
	if c, sc, ok := n.HardResetInner(); ok {
		s += " (" + NotificationName(c, sc) + ")"
		if len(n.Data) > 2 {
			s += fmt.Sprintf(" data %x", n.Data[2:])
		}
		return s
	}
	if len(n.Data) > 0 {
		s += fmt.Sprintf(" data %x", n.Data)
	}
	return s
}

// Error makes a received NOTIFICATION usable as an error.
func (n *Notification) Error() string { return "notification: " + n.String() }
