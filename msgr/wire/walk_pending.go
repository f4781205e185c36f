package wire

// Pending is the element in progress: its kind, the frame it belongs to (0 for a session
// frame's tag, whose frame its byte decides) and the stream offset of its first byte. When
// Offset equals that start, the next byte walked begins the element. ok is false when no
// element is in progress: the walker waits for PeerReply, or the walk has ended.
func (w *Walker) Pending() (kind ElemKind, frame FrameKind, start uint64, ok bool) {
	if w.step == wAwaitReply || w.step >= wClosed {
		return 0, 0, 0, false
	}
	frame = stepInfo[w.step].frame
	if frame == 0 && w.step != wTag {
		frame = w.frame
	}
	return stepInfo[w.step].kind, frame, w.start, true
}
