"""Mail the weekly report (Python 2 era script)."""
import os
import smtplib
import urllib2

REPORT_URL = os.environ.get("REPORT_URL", "http://intranet/report")


def fetch():
    try:
        return urllib2.urlopen(REPORT_URL).read()
    except urllib2.URLError, err:
        print >>sys.stderr, "cannot fetch the report:", err
        return None


if __name__ == "__main__":
    body = fetch()
    if body:
        server = smtplib.SMTP("localhost")
        server.sendmail("reports@example.org", ["team@example.org"], body)
        print "sent"
