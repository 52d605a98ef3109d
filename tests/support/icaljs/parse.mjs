// Parses iCalendar files with ical.js (the parser behind Thunderbird) and prints, as JSON,
// what a calendar client would take from each: calendar properties and every event's
// UID, SEQUENCE, STATUS, SUMMARY, DESCRIPTION, LOCATION and UTC start/end. Usage: node parse.mjs FILE...
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function instant(time) {
  if (!time) return null;
  return {
    utc: time.toJSDate().toISOString(),
    zone: time.zone === ICAL.Timezone.utcTimezone ? "UTC" : time.zone === ICAL.Timezone.localTimezone ? "floating" : String(time.zone && time.zone.tzid),
  };
}

function property(component, name) {
  const prop = component.getFirstProperty(name);
  return prop ? { type: prop.type, value: String(prop.getFirstValue()) } : null;
}

function describe(path) {
  const calendar = new ICAL.Component(ICAL.parse(readFileSync(path, "utf8")));
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    return {
      uid: event.uid,
      sequence: event.sequence,
      status: vevent.getFirstPropertyValue("status"),
      summary: event.summary,
      description: event.description,
      location: event.location,
      start: instant(event.startDate),
      end: instant(event.endDate),
      dtstamp: instant(vevent.getFirstPropertyValue("dtstamp")),
      last_modified: instant(vevent.getFirstPropertyValue("last-modified")),
      object_ids: vevent.getAllProperties("x-maintnote-object-id").map((p) => String(p.getFirstValue())),
    };
  });
  return {
    file: path,
    name: property(calendar, "name"),
    x_wr_calname: property(calendar, "x-wr-calname"),
    refresh_interval: property(calendar, "refresh-interval"),
    published_ttl: property(calendar, "x-published-ttl"),
    method: property(calendar, "method"),
    events,
  };
}

console.log(JSON.stringify(process.argv.slice(2).map(describe)));
