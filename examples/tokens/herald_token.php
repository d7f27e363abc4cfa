<?php
/**
 * Minting a Herald client token in plain PHP: an HS256 JWT made with hash_hmac, no library.
 * Your backend signs one per page view and hands it to the page, which sends it to Herald.
 *
 *   HERALD_SECRET=... php herald_token.php <uid> [ttl-seconds] [group,group]
 */

function base64url(string $bytes): string
{
    return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
}

/** A token for $uid, valid for $ttl seconds, joining $groups (a list of strings). */
function herald_token(string $secret, string $uid, int $ttl = 3600, array $groups = []): string
{
    $header = ['alg' => 'HS256', 'typ' => 'JWT'];
    $claims = ['sub' => $uid, 'iat' => time(), 'exp' => time() + $ttl];
    if ($groups !== []) {
        $claims['groups'] = array_values($groups);
    }
    $signed = base64url(json_encode($header)) . '.' . base64url(json_encode($claims));
    return $signed . '.' . base64url(hash_hmac('sha256', $signed, $secret, true));
}

if (PHP_SAPI === 'cli' && realpath($argv[0]) === __FILE__) {
    $secret = getenv('HERALD_SECRET');
    if (count($argv) < 2 || count($argv) > 4 || $secret === false || $secret === '') {
        fwrite(STDERR, "usage: HERALD_SECRET=... php herald_token.php <uid> [ttl-seconds] [group,group]\n");
        exit(2);
    }
    $groups = isset($argv[3]) && $argv[3] !== '' ? explode(',', $argv[3]) : [];
    echo herald_token($secret, $argv[1], (int) ($argv[2] ?? 3600), $groups), "\n";
}
