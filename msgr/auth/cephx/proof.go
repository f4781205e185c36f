package cephx

import "encoding/binary"

// ClientProof computes the key field of CephXAuthenticate, by which a client proves it holds
// its secret (cephx_calc_client_server_challenge): CephXChallengeBlob (le64 server challenge,
// le64 client challenge) is sealed with the secret into a length-prefixed envelope, and the
// result is the XOR of that envelope's complete 8-byte little-endian words — the le32 length
// prefix included, the last 4 bytes left out.
func ClientProof(secret Key, serverChallenge, clientChallenge uint64) (uint64, error) {
	e := encoder{}
	e.u64(serverChallenge)
	e.u64(clientChallenge)
	enc, err := AppendSealed(nil, secret, e.b)
	if err != nil {
		return 0, err
	}
	var k uint64
	for p := 0; p+8 <= len(enc); p += 8 {
		k ^= binary.LittleEndian.Uint64(enc[p:])
	}
	return k, nil
}
